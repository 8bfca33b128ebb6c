#pragma once
// Counters, written by their owning thread without contention (one cache line
// per worker) and summed only when someone asks for "stats".

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace signpost::geoipd {

class DatabaseSet;

struct alignas(64) WorkerCounters {
    std::atomic<std::uint64_t> lookups{0};
    std::atomic<std::uint64_t> found{0};
    std::atomic<std::uint64_t> not_found{0};
    std::atomic<std::uint64_t> bad_requests{0};
    std::atomic<std::uint64_t> info_requests{0};
    std::atomic<std::uint64_t> stats_requests{0};
    std::atomic<std::uint64_t> connections_accepted{0};
    std::atomic<std::uint64_t> connections_refused{0};  // over --max-clients
    std::atomic<std::uint64_t> reads_paused{0};         // a client not reading its answers
    std::atomic<std::uint64_t> table_requests{0};
    std::atomic<std::uint64_t> subscribe_requests{0};
    std::atomic<std::uint64_t> table_pushes{0};         // new generations sent to subscribers
    std::atomic<std::uint64_t> subscribers_dropped{0};  // closed: too far behind to push to
};

class Stats {
  public:
    explicit Stats(unsigned workers);
    WorkerCounters& worker(unsigned i) { return *workers_[i]; }

    std::atomic<std::int64_t> connections_current{0};
    std::atomic<std::uint64_t> reloads{0};
    std::atomic<std::uint64_t> reload_failures{0};
    std::atomic<std::int64_t> last_reload_failure{0};  // unix time, 0: never
    // The published geo table (set by whoever publishes a generation).
    std::atomic<std::uint64_t> table_generation{0};
    std::atomic<std::uint64_t> table_v4_ranges{0};
    std::atomic<std::uint64_t> table_v6_ranges{0};
    std::atomic<std::uint64_t> table_facts{0};
    std::atomic<std::uint64_t> table_bytes{0};
    std::atomic<std::uint64_t> table_compile_ms{0};
    std::atomic<std::uint64_t> table_compile_failures{0};

    // {"lookups":N,...,"generation":G} as one line.
    void append_json(std::string& out, std::uint64_t generation) const;
    // The same, and each database's build time and age, as Prometheus text.
    std::string prometheus(const DatabaseSet& dbs, std::int64_t now_unix) const;
    std::uint64_t sum(std::atomic<std::uint64_t> WorkerCounters::*field) const;

  private:
    std::vector<std::unique_ptr<WorkerCounters>> workers_;
};

inline void bump(std::atomic<std::uint64_t>& c) {
    // Only the owning thread writes: a relaxed load+store is enough and avoids
    // the locked instruction of fetch_add on the hot path.
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace signpost::geoipd
