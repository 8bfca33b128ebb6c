#include "dnsd/server/query_pipeline.hpp"

#include <algorithm>
#include <ctime>

#include "dnsd/redirect/redirect.hpp"
#include "dnsd/server/serving_state.hpp"

namespace signpost::dnsd {
inline namespace server {

void QueryPipeline::begin(std::shared_ptr<const ServingState> state,
                          std::shared_ptr<const HealthState> health) {
    lookups_ = 0;  // a batch's lookups are its own (look_up() after begin())
    env_.hits = nullptr;
    env_.last_dynamic.zone = nullptr;  // found in the state before
    state_ = std::move(state);
    health_source_ = std::move(health);
    env_.health = health_.get(health_source_, state_->edges);
    env_.decisions = state_->decisions.get();
    if (state_->generation != generation_) {
        generation_ = state_->generation;
        cache_.clear();
    }
}

void QueryPipeline::end() {
    lookups_ = 0;
    env_.hits = nullptr;
    env_.last_dynamic.zone = nullptr;
    env_.health = nullptr;
    env_.decisions = nullptr;
    health_source_.reset();
    state_.reset();
}

ParseStatus QueryPipeline::parse(std::span<const std::uint8_t> in, bool oversize, Query& q) {
    if (oversize) {
        q = Query{};
        return ParseStatus::kFormErr;
    }
    return parse_query(in, q);
}

std::size_t QueryPipeline::look_up(std::span<const Query> queries,
                                   std::span<const ParseStatus> status,
                                   std::span<const common::IpAddress> sources,
                                   std::span<common::IpAddress> scratch) {
    lookups_ = 0;
    const Decisions* d = env_.decisions;
    const std::size_t n = queries.size();
    if (!d || d->maps.empty() || d->maps.size() > kMaxLookupMaps || n > kMaxLookups) return 0;
    // The well-formed queries' client addresses, packed; a query from the
    // same address as the one before it (a resolver without ECS, or the same
    // subnet again) shares its search. Compared before the key is made, on
    // what it is made from (written at parse or receive time, long before):
    // loading the key just stored would stall store forwarding.
    constexpr std::uint8_t kNoSearch = 0xff;
    static_assert(kMaxLookups < kNoSearch);
    std::uint8_t search[kMaxLookups];  // per query: its search, or kNoSearch
    std::size_t m = 0;
    const common::IpAddress* last = nullptr;  // what the last search's key was made from
    bool last_ecs = false;
    for (std::size_t i = 0; i < n; ++i) {
        std::fill_n(hits_[i], d->maps.size(), RangeHit{});
        search[i] = kNoSearch;
        if (status[i] != ParseStatus::kOk) continue;
        const Query& q = queries[i];
        const bool ecs = q.ecs.present && q.ecs.source_len > 0;  // as client_key() decides
        const common::IpAddress& from = ecs ? q.ecs.address : sources[i];
        if (!last || ecs != last_ecs || !(from == *last)) {
            scratch[m++] = client_key(q, sources[i]).address;
            last = &from;
            last_ecs = ecs;
        }
        search[i] = static_cast<std::uint8_t>(m - 1);
    }
    RangeHit found[kMaxLookups];
    std::size_t made = 0;
    for (std::size_t k = 0; k < d->maps.size(); ++k) {
        const CompiledMap& map = d->maps[k];
        if (!map.ready()) continue;
        map.find_batch(scratch.first(m), std::span(found, m));
        for (std::size_t i = 0; i < n; ++i)
            if (search[i] != kNoSearch) hits_[i][k] = found[search[i]];
        made += m;
        // What the decision reads next, chain -> first entry -> its members,
        // fetched for every search a pass at a time: with thousands of
        // overrides each client has its own chain and entry, and each hop
        // would be a miss the answer waits for alone.
        for (std::size_t j = 0; j < m; ++j) __builtin_prefetch(found[j].chain);
        for (std::size_t j = 0; j < m; ++j)
            if (found[j].chain) __builtin_prefetch(found[j].chain->steps[0].entry);
        for (std::size_t j = 0; j < m; ++j)
            if (const Chain* c = found[j].chain; c && c->steps[0].entry)
                __builtin_prefetch(c->steps[0].entry->members.data());
    }
    lookups_ = n;
    return made;
}

std::size_t QueryPipeline::answer(const Query& q, ParseStatus status,
                                  std::span<const std::uint8_t> in, const common::IpAddress& source,
                                  Transport transport, std::span<std::uint8_t> out,
                                  std::size_t looked_up) {
    // Static answers come from the cache when the same query bytes were
    // answered before (only well-formed queries are looked up or kept; a
    // redirect answer is never stored, so a query for the name the last
    // redirect answered is not looked up). A cookie answer carries a server
    // cookie made for this client and second: never cached.
    env_.hits = looked_up < lookups_ ? hits_[looked_up] : nullptr;
    if (q.tsig.present && status == ParseStatus::kOk)
        return answer_signed(q, in, source, transport, out);
    const bool cacheable = transport == Transport::kUdp && status == ParseStatus::kOk &&
                           q.opcode == kOpQuery && !q.cookie.present &&
                           out.size() >= AnswerCache::kMaxAnswer && !env_.last_dynamic.matches(q);
    AnswerCache::Counts before;
    if (cacheable) {
        const std::size_t n = cache_.find(in.data(), in.size(), out.data(), stats_);
        if (n != 0) return n;
        AnswerCache::read(stats_, before);
    }
    env_.dynamic_used = false;
    const std::size_t n =
        respond(q, status, source, transport, {state_->zones, state_->options, stats_, &env_}, out);
    if (cacheable && !env_.dynamic_used)
        cache_.store(in.data(), in.size(), out.data(), n, before, stats_);
    return n;
}

std::size_t QueryPipeline::answer_signed(const Query& q, std::span<const std::uint8_t> in,
                                         const common::IpAddress& source, Transport transport,
                                         std::span<std::uint8_t> out) {
    // Checked against every [[keys]] entry: signed back when it is right,
    // NOTAUTH with the TSIG error when not (RFC 8945 5.2). Never cached.
    const auto now = static_cast<std::uint64_t>(std::time(nullptr));
    std::vector<const TsigKey*> keys;
    for (const auto& k : state_->keys) keys.push_back(k.get());
    const TsigCheck check = check_tsig(in, q, keys, now);
    if (check.error != tsig_error::kNone) {
        bump(stats_.tsig_refused);
        return tsig_refusal(q, check, out.data(), out.size(), now);
    }
    // The answer leaves room for the TSIG within the size the client takes.
    std::size_t limit = kMaxMessage;
    if (transport == Transport::kUdp)
        limit = q.edns ? std::clamp<std::size_t>(q.udp_payload, kMinUdpPayload,
                                                 state_->options.edns_payload)
                       : kMinUdpPayload;
    limit = std::min(limit, out.size());
    const std::size_t room = tsig_size(*check.key);
    env_.dynamic_used = false;
    const std::size_t n = respond(q, ParseStatus::kOk, source, transport,
                                  {state_->zones, state_->options, stats_, &env_},
                                  out.first(limit - std::min(limit, room)));
    if (n == 0) return 0;
    bump(stats_.tsig_signed);
    TsigSigner signer(*check.key, check.request_mac);
    return signer.sign(out.data(), n, limit, now);
}

std::size_t QueryPipeline::answer_message(std::span<const std::uint8_t> in,
                                          const common::IpAddress& source, Transport transport,
                                          std::span<std::uint8_t> out) {
    const ParseStatus st = parse(in, false, query_);
    return answer(query_, st, in, source, transport, out);
}

}  // namespace server
}  // namespace signpost::dnsd
