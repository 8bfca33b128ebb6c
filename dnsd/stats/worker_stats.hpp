#pragma once
// dnsd's per-worker counters: one cache line block per worker thread, written
// only by it (relaxed load+store), summed when metrics are asked for. The
// bottom of dnsd: every layer bumps them, none depends on anything else here.
// server/stats.hpp sums and renders them.

#include <atomic>
#include <cstdint>

#include "dnsd/stats/client_samples.hpp"

namespace signpost::dnsd {
inline namespace stats {

#define SIGNPOST_DNSD_COUNTERS(X)                                                                  \
    X(udp_queries, "UDP queries received")                                                         \
    X(tcp_queries, "TCP queries received")                                                         \
    X(dropped, "queries dropped unanswered (responses, runts)")                                    \
    X(noerror, "responses with rcode NOERROR")                                                     \
    X(nxdomain, "responses with rcode NXDOMAIN")                                                   \
    X(formerr, "responses with rcode FORMERR")                                                     \
    X(refused, "responses with rcode REFUSED")                                                     \
    X(notimp, "responses with rcode NOTIMP")                                                       \
    X(badvers, "responses with extended rcode BADVERS")                                            \
    X(servfail, "responses with rcode SERVFAIL")                                                   \
    X(truncated, "UDP responses truncated (TC=1)")                                                 \
    X(referrals, "referrals to a delegated child zone")                                            \
    X(edns, "queries with EDNS")                                                                   \
    X(ecs, "queries with EDNS Client Subnet")                                                      \
    X(any, "ANY queries answered per RFC 8482")                                                    \
    X(answer_cache_hits, "static UDP answers copied from the answer cache")                        \
    X(rrl_dropped, "UDP responses dropped by response rate limiting")                              \
    X(rrl_slipped, "UDP responses sent empty with TC=1 by response rate limiting")                 \
    X(tcp_connections, "TCP connections accepted")                                                 \
    X(tcp_refused, "TCP connections refused over a limit")                                         \
    X(tcp_idle_closed, "TCP connections closed after the idle timeout")                            \
    X(redirect_answers, "redirect names answered from a map")                                      \
    X(redirect_fallback, "redirect answers from the fallback pool (no geo table yet)")             \
    X(redirect_fail_open, "redirect answers with no candidate up (answered as if all were)")       \
    X(axfr_served, "zone transfers (AXFR, RFC 5936) sent whole over TCP")                          \
    X(axfr_refused, "zone transfer requests refused (over UDP, not allowed, or not an apex)")      \
    X(notify_received, "NOTIFYs from a secondary zone's primaries, acknowledged")                  \
    X(notify_refused, "NOTIFYs refused: not from a primary of a secondary zone served here")       \
    X(tsig_signed, "answers signed (TSIG, RFC 8945) to signed queries and NOTIFYs")                \
    X(tsig_refused, "signed queries answered NOTAUTH: an unknown key, a bad MAC or a clock apart") \
    X(zone_unavailable,                                                                            \
      "queries answered SERVFAIL: a secondary zone not transferred yet or expired")

struct alignas(64) WorkerStats {
#define SP_FIELD(name, help) std::atomic<std::uint64_t> name{0};
    SIGNPOST_DNSD_COUNTERS(SP_FIELD)
#undef SP_FIELD
    // This worker's labeled counters (server/labeled_counters.hpp), indexed
    // by the slots a redirect was given; nullptr: not counted (tests).
    std::atomic<std::uint64_t>* labeled = nullptr;
    // Where this worker samples its redirect clients; nullptr: not sampled.
    ClientSamples* samples = nullptr;
};

// The counters by index, in list order (for code that copies or compares them all).
inline constexpr std::atomic<std::uint64_t> WorkerStats::*kWorkerCounters[] = {
#define SP_MEMBER(name, help) &WorkerStats::name,
    SIGNPOST_DNSD_COUNTERS(SP_MEMBER)
#undef SP_MEMBER
};

inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace stats
}  // namespace signpost::dnsd
