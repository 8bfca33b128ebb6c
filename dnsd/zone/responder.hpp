#pragma once
// Turns a parsed query into a response, from the immutable ZoneSet: static
// names from prebuilt wire data, dynamic names through their DynamicAnswer.
// No allocation, no locks, no syscalls.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "common/ip_address.hpp"
#include "dnsd/stats/worker_stats.hpp"
#include "dnsd/wire/query.hpp"
#include "dnsd/zone/dynamic_answer.hpp"
#include "dnsd/zone/zone.hpp"

namespace signpost::dnsd {
inline namespace zone {

struct ResponderOptions {
    std::uint16_t edns_payload = kDefaultEdnsPayload;  // what we advertise and honour at most
    // Sent to clients that ask (EDNS NSID, RFC 5001): which server answered,
    // behind anycast or a load balancer. Empty: not sent.
    std::string nsid;
    // DNS Cookies (RFC 7873, RFC 9018 server cookies): answered when sent.
    bool cookies = true;
    CookieSecret cookie_secret{};
};

// UDP answers are bounded by the client's EDNS size (or 512) and truncated
// (TC=1) past it; TCP answers by the 64 KiB message limit only.
enum class Transport { kUdp, kTcp };

// What every query of a batch (or of a TCP read) is answered from.
struct AnswerContext {
    const ZoneSet& zones;
    const ResponderOptions& options;
    WorkerStats& stats;
    QueryEnv* env = nullptr;  // nullptr: no dynamic answers' per-thread state (tests)
};

// Writes the response for `q` (parsed with `status`) into `out`. Returns the
// response length, 0 to drop.
std::size_t respond(const Query& q, ParseStatus status, const common::IpAddress& source,
                    Transport transport, const AnswerContext& ctx, std::span<std::uint8_t> out);

// A record's length and rdata, its names compressed where RFC 3597 allows.
void write_rdata(Writer& w, const Record& rec);

// The dynamic answer a query for `name` reaches, if any, through in-zone
// CNAMEs as an answer follows them (at most kMaxChain names); `walked` gets
// each CNAME passed on the way ("tv.example. CNAME video.example."). For
// dnsdctl explain.
const DynamicAnswer* dynamic_answer_for(const ZoneSet& zones, const NameRef& name,
                                        std::vector<std::string>* walked = nullptr);

}  // namespace zone
}  // namespace signpost::dnsd
