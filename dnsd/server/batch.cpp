#include "dnsd/server/batch.hpp"

#include <cstring>
#include <ctime>
#include <string_view>

#include "common/hash.hpp"
#include "dnsd/server/serving_state.hpp"
#include "dnsd/zone/responder.hpp"

namespace signpost::dnsd {
inline namespace server {

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

void BatchAnswerer::answer(Batch& b, unsigned n, const std::shared_ptr<const ServingState>& state,
                           const std::shared_ptr<const HealthState>& health) {
    pipeline_.begin(state, health);
    for (unsigned i = 0; i < n; ++i)
        b.status[i] =
            QueryPipeline::parse(std::span(b.in[i], b.in_len[i]), b.oversize[i], b.query[i]);
    lookups_ = pipeline_.look_up(std::span(b.query, n), std::span(b.status, n),
                                 std::span(b.source, n), std::span(b.client, n));
    for (unsigned i = 0; i < n; ++i)
        b.out_len[i] =
            pipeline_.answer(b.query[i], b.status[i], std::span(b.in[i], b.in_len[i]), b.source[i],
                             Transport::kUdp, std::span(b.out[i], Batch::kOutSize), i);
    if (state->rrl) limit(b, n, *state);
    pipeline_.end();
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
                bump(pipeline_.stats().rrl_dropped);
                break;
            case RateLimiter::Verdict::kSlip: {
                // Header and question only, TC=1: a real client asks again over TCP.
                std::uint8_t* o = b.out[i];
                const std::size_t keep = kHeaderSize + (q.has_question ? q.question_len : 0);
                if (keep > b.out_len[i]) {
                    b.out_len[i] = 0;
                    bump(pipeline_.stats().rrl_dropped);
                    break;
                }
                o[2] |= static_cast<std::uint8_t>(flag::TC >> 8);
                std::memset(o + 6, 0, 6);  // no answer, authority or additional records
                b.out_len[i] = keep;
                bump(pipeline_.stats().rrl_slipped);
                break;
            }
        }
    }
}

}  // namespace server
}  // namespace signpost::dnsd
