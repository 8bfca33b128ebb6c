#include "dnsd/server/batch.hpp"

#include <cstring>
#include <ctime>
#include <string_view>

#include "common/hash.hpp"
#include "dnsd/redirect/redirect.hpp"
#include "dnsd/zone/responder.hpp"

namespace signpost::dnsd {

namespace {
// What a response is, for rate limiting: answers and NODATA by name and type
// (a real resolver caches them, so repeats from one netblock are suspect),
// NXDOMAIN by zone (random names under one zone count together), errors by
// rcode.
std::uint64_t response_kind(const Query& q, ParseStatus status, const std::uint8_t* out,
                            const ZoneSet& zones) {
    if (status != ParseStatus::kOk) return common::mix64(0xE000 + static_cast<unsigned>(status));
    const unsigned rcode = out[3] & 0xf;
    if (rcode == rcode::NOERROR) {
        const std::string_view name(reinterpret_cast<const char*>(q.qname), q.qname_len);
        return common::fnv1a(name) ^ common::mix64(q.qtype);
    }
    if (rcode == rcode::NXDOMAIN) {
        const NameRef qn{q.qname, q.qname_len, q.label_count, q.label_offset};
        return common::mix64(0xA000) ^ reinterpret_cast<std::uintptr_t>(zones.find(qn));
    }
    return common::mix64(0xE100 + rcode);
}
}  // namespace

void BatchAnswerer::answer(Batch& b, unsigned n, const ServingState& state,
                           const std::shared_ptr<const HealthState>& health) {
    env_.health = health_.get(health, state.edges);
    env_.decisions = state.decisions.get();
    if (state.generation != generation_) {
        generation_ = state.generation;
        cache_.clear();
    }
    for (unsigned i = 0; i < n; ++i) {
        if (b.oversize[i]) {
            b.status[i] = ParseStatus::kFormErr;
            b.query[i] = Query{};
        } else {
            b.status[i] = parse_query(std::span(b.in[i], b.in_len[i]), b.query[i]);
        }
    }
    // Redirect answers look their client up in the compiled maps: start those
    // cache misses for the whole batch now, so they overlap (for every
    // well-formed query: which are redirects is known only when answering).
    const Decisions* d = env_.decisions;
    if (d && !d->maps.empty() && d->maps.size() <= 4) {
        for (unsigned i = 0; i < n; ++i) {
            if (b.status[i] != ParseStatus::kOk) continue;
            b.client[i] = client_key(b.query[i], b.source[i]).address;
            for (const auto& m : d->maps) m.prefetch_index(b.client[i]);
        }
        for (unsigned i = 0; i < n; ++i)
            if (b.status[i] == ParseStatus::kOk)
                for (const auto& m : d->maps) m.prefetch_ranges(b.client[i]);
    }
    // Static answers from the cache when the same query bytes were answered
    // before (only well-formed queries are looked up or kept; a redirect
    // answer is never stored, so its lookup misses).
    AnswerCache::Counts before;
    for (unsigned i = 0; i < n; ++i) {
        // A cookie answer carries a server cookie made for this client and second.
        const bool cacheable = b.status[i] == ParseStatus::kOk && !b.query[i].cookie.present;
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
    if (state.rrl) limit(b, n, state);
}

void BatchAnswerer::limit(Batch& b, unsigned n, const ServingState& state) {
    const auto now = static_cast<std::uint32_t>(std::time(nullptr));
    for (unsigned i = 0; i < n; ++i) {
        if (b.out_len[i] < kHeaderSize) continue;
        const Query& q = b.query[i];
        // A valid server cookie proves the source address: never limited.
        if (q.cookie.present && state.options.cookies &&
            cookie_valid(q.cookie, b.source[i], state.options.cookie_secret, now))
            continue;
        const auto kind = response_kind(q, b.status[i], b.out[i], state.zones);
        switch (state.rrl->check(b.source[i], kind, now)) {
            case RateLimiter::Verdict::kSend:
                break;
            case RateLimiter::Verdict::kDrop:
                b.out_len[i] = 0;
                bump(stats_.rrl_dropped);
                break;
            case RateLimiter::Verdict::kSlip: {
                // Header and question only, TC=1: a real client asks again over TCP.
                std::uint8_t* o = b.out[i];
                const std::size_t keep = kHeaderSize + (q.has_question ? q.question_len : 0);
                if (keep > b.out_len[i]) {
                    b.out_len[i] = 0;
                    bump(stats_.rrl_dropped);
                    break;
                }
                o[2] |= static_cast<std::uint8_t>(flag::TC >> 8);
                std::memset(o + 6, 0, 6);  // no answer, authority or additional records
                b.out_len[i] = keep;
                bump(stats_.rrl_slipped);
                break;
            }
        }
    }
}

}  // namespace signpost::dnsd
