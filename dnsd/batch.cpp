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
        cache_.clear();
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
        b.dynamic[i] = false;
        if (env_.geo && b.status[i] == ParseStatus::kOk) {
            common::IpAddress key;
            const auto* dyn = dynamic_target(b.query[i], state.zones);
            b.dynamic[i] = dyn != nullptr;
            if (dyn && dyn->geo_key(b.query[i], b.source[i], key)) b.geo_keys.push_back(key);
        }
    }
    if (!b.geo_keys.empty()) geo_.prefetch(b.geo_keys);
    // Pass 2: answer; static answers from the cache when the same query bytes
    // were answered before (only well-formed queries are looked up or kept).
    AnswerCache::Counts before;
    for (unsigned i = 0; i < n; ++i) {
        // A cookie answer carries a server cookie made for this client and second.
        const bool cacheable =
            b.status[i] == ParseStatus::kOk && !b.dynamic[i] && !b.query[i].cookie.present;
        if (cacheable) {
            b.out_len[i] = cache_.find(b.in[i], b.in_len[i], b.out[i], stats_);
            if (b.out_len[i] != 0) continue;
            AnswerCache::read(stats_, before);
        }
        env_.dynamic_used = false;
        b.out_len[i] = respond(b.query[i], b.status[i], state.zones, b.source[i], false,
                               state.options, b.out[i], Batch::kOutSize, stats_, &env_);
        if (cacheable && !env_.dynamic_used)
            cache_.store(b.in[i], b.in_len[i], b.out[i], b.out_len[i], before, stats_);
    }
}

}  // namespace signpost::dnsd
