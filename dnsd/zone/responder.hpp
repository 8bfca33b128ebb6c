#pragma once
// Turns a parsed query into a response, from the immutable ZoneSet: static
// names from prebuilt wire data, dynamic names through their DynamicAnswer.
// No allocation, no locks, no syscalls.

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/ip_address.hpp"
#include "dnsd/stats/worker_stats.hpp"
#include "dnsd/wire/query.hpp"
#include "dnsd/zone/dynamic_answer.hpp"
#include "dnsd/zone/zone.hpp"

namespace signpost::dnsd {

struct ResponderOptions {
    std::uint16_t edns_payload = kDefaultEdnsPayload;  // what we advertise and honour at most
    // Sent to clients that ask (EDNS NSID, RFC 5001): which server answered,
    // behind anycast or a load balancer. Empty: not sent.
    std::string nsid;
    // DNS Cookies (RFC 7873, RFC 9018 server cookies): answered when sent.
    bool cookies = true;
    CookieSecret cookie_secret{};
};

// Writes the response for `q` (parsed with `status`) into out[0..capacity).
// `tcp`: no UDP size limit (64 KiB). Returns the response length, 0 to drop.
std::size_t respond(const Query& q, ParseStatus status, const ZoneSet& zones,
                    const common::IpAddress& source, bool tcp, const ResponderOptions& opts,
                    std::uint8_t* out, std::size_t capacity, WorkerStats& stats,
                    QueryEnv* env = nullptr);

// The dynamic answer a parsed query will reach, if any (for batch prefetching).
const DynamicAnswer* dynamic_target(const Query& q, const ZoneSet& zones);

}  // namespace signpost::dnsd
