#pragma once
// dnsd's metrics: every worker's counters (stats/worker_stats.hpp) summed,
// with the server's own gauges, as Prometheus text or JSON.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dnsd/server/labeled_counters.hpp"
#include "dnsd/stats/worker_stats.hpp"

namespace signpost::dnsd {
inline namespace server {

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
    // `labeled`: the per-redirect series, rendered with the rest (each worker
    // gets its array of them).
    explicit Stats(unsigned workers, LabeledCounters* labeled = nullptr);
    WorkerStats& worker(unsigned i) { return *workers_[i]; }
    unsigned size() const { return static_cast<unsigned>(workers_.size()); }
    // Prometheus text exposition format (version 0.0.4).
    std::string prometheus(std::uint64_t generation, std::uint64_t reloads,
                           std::uint64_t reload_failures) const;
    std::string json(std::uint64_t generation) const;
    // The UDP sockets whose kernel drop counts are reported (udp_receive_drops).
    void set_udp_sockets(std::vector<int> fds) { udp_fds_ = std::move(fds); }
    std::uint64_t udp_receive_drops() const;
    // One counter summed over every worker.
    std::uint64_t total(std::atomic<std::uint64_t> WorkerStats::*counter) const;
    void set_geo_status(std::function<GeoStatus()> f) { geo_status_ = std::move(f); }
    // Every worker samples its redirect clients (for the top ASNs and countries).
    void sample_clients();
    // More metrics rendered after the counters (the top ASNs and countries).
    void set_extra_metrics(std::function<void(std::string&)> f) { extra_ = std::move(f); }

  private:
    std::function<GeoStatus()> geo_status_;
    LabeledCounters* labeled_ = nullptr;
    std::vector<std::unique_ptr<ClientSamples>> samples_;
    std::function<void(std::string&)> extra_;
    std::vector<std::unique_ptr<WorkerStats>> workers_;
    std::vector<int> udp_fds_;
};

}  // namespace server
}  // namespace signpost::dnsd
