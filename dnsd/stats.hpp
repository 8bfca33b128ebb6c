#pragma once
// dnsd counters: one cache line block per worker thread, written only by it
// (relaxed load+store), summed when metrics are asked for.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace signpost::dnsd {

#define SIGNPOST_DNSD_COUNTERS(X)                                                      \
    X(udp_queries, "UDP queries received")                                             \
    X(tcp_queries, "TCP queries received")                                             \
    X(dropped, "queries dropped unanswered (responses, runts)")                        \
    X(noerror, "responses with rcode NOERROR")                                         \
    X(nxdomain, "responses with rcode NXDOMAIN")                                       \
    X(formerr, "responses with rcode FORMERR")                                         \
    X(refused, "responses with rcode REFUSED")                                         \
    X(notimp, "responses with rcode NOTIMP")                                           \
    X(badvers, "responses with extended rcode BADVERS")                                \
    X(servfail, "responses with rcode SERVFAIL")                                       \
    X(truncated, "UDP responses truncated (TC=1)")                                     \
    X(referrals, "referrals to a delegated child zone")                                \
    X(edns, "queries with EDNS")                                                       \
    X(ecs, "queries with EDNS Client Subnet")                                          \
    X(any, "ANY queries answered per RFC 8482")                                        \
    X(answer_cache_hits, "static UDP answers copied from the answer cache")            \
    X(rrl_dropped, "UDP responses dropped by response rate limiting")                  \
    X(rrl_slipped, "UDP responses sent empty with TC=1 by response rate limiting")     \
    X(tcp_connections, "TCP connections accepted")                                     \
    X(tcp_refused, "TCP connections refused over a limit")                             \
    X(tcp_idle_closed, "TCP connections closed after the idle timeout")                \
    X(redirect_answers, "redirect names answered from a map")                          \
    X(redirect_fallback, "redirect answers from the fallback pool (no geo table yet)") \
    X(redirect_fail_open, "redirect answers with no candidate up (answered as if all were)")

struct alignas(64) WorkerStats {
#define SP_FIELD(name, help) std::atomic<std::uint64_t> name{0};
    SIGNPOST_DNSD_COUNTERS(SP_FIELD)
#undef SP_FIELD
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

// The geo table in use and the subscription to geoipd, for metrics.
struct GeoStatus {
    bool configured = false;  // [geoip] socket set
    bool connected = false;   // subscribed to geoipd now
    bool have_table = false;
    std::uint64_t table_generation = 0;
    std::uint64_t table_age_s = 0;  // since geoipd compiled it
    std::uint64_t table_ranges_v4 = 0, table_ranges_v6 = 0;
    std::uint64_t decision_ranges = 0;  // over every compiled map, both families
    double compile_ms = 0;              // compiling every map against it
    std::uint64_t tables_received = 0, tables_refused = 0, disconnects = 0;
};

class Stats {
  public:
    explicit Stats(unsigned workers);
    WorkerStats& worker(unsigned i) { return *workers_[i]; }
    unsigned size() const { return static_cast<unsigned>(workers_.size()); }
    // Prometheus text exposition format (version 0.0.4).
    std::string prometheus(std::uint64_t generation, std::uint64_t reloads,
                           std::uint64_t reload_failures) const;
    std::string json(std::uint64_t generation) const;
    // The UDP sockets whose kernel drop counts are reported (udp_receive_drops).
    void set_udp_sockets(std::vector<int> fds) { udp_fds_ = std::move(fds); }
    std::uint64_t udp_receive_drops() const;
    void set_geo_status(std::function<GeoStatus()> f) { geo_status_ = std::move(f); }

  private:
    std::function<GeoStatus()> geo_status_;
    std::vector<std::unique_ptr<WorkerStats>> workers_;
    std::vector<int> udp_fds_;
};

}  // namespace signpost::dnsd
