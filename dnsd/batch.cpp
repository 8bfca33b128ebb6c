#include "dnsd/batch.hpp"

#include "dnsd/responder.hpp"

namespace signpost::dnsd {

void BatchAnswerer::answer(Batch& b, unsigned n, const ServingState& state,
                           const std::shared_ptr<const HealthState>& health) {
    env_.health = health_.get(health, state.edges);
    if (state.generation != generation_) {
        geo_.configure(state.edges->geoip);
        env_.geo = geo_.enabled() ? &geo_ : nullptr;
        generation_ = state.generation;
    }
    // Pass 1: parse, and gather the addresses redirect answers will need, so
    // that cache misses go to geoipd together, under one deadline.
    b.geo_keys.clear();
    for (unsigned i = 0; i < n; ++i) {
        if (b.oversize[i]) {
            b.status[i] = ParseStatus::kFormErr;
            b.query[i] = Query{};
        } else {
            b.status[i] = parse_query(std::span(b.in[i], b.in_len[i]), b.query[i]);
        }
        if (env_.geo && b.status[i] == ParseStatus::kOk) {
            common::IpAddress key;
            if (const auto* dyn = dynamic_target(b.query[i], state.zones);
                dyn && dyn->geo_key(b.query[i], b.source[i], key))
                b.geo_keys.push_back(key);
        }
    }
    if (!b.geo_keys.empty()) geo_.prefetch(b.geo_keys);
    // Pass 2: answer.
    for (unsigned i = 0; i < n; ++i)
        b.out_len[i] = respond(b.query[i], b.status[i], state.zones, b.source[i], false,
                               state.options, b.out[i], Batch::kOutSize, stats_, &env_);
}

}  // namespace signpost::dnsd
