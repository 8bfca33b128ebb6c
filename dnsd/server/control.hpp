#pragma once
// The control socket (a Unix stream socket, one request line, one JSON
// response line; dnsdctl speaks it) and the Prometheus metrics endpoint
// (plain HTTP GET /metrics), both served by one thread off the query path.
//
//   reload    re-read the config and zones; {"ok":true,"generation":N} or {"ok":false,"error":..}
//   stats     counters as JSON
//   zones     served zones: name, serial, file
//   status    every node address: admin state, health, serving, reason, since, check latency
//   node NAME [up|down|drain [SECONDS]|auto]
//             show or override a node's state (persisted in [health] state_file)
//   explain NAME ADDRESS[/PREFIX]
//             the redirect decision for a client, step by step (as ECS with
//             that prefix; a bare address is a plain query from it)

#include <memory>
#include <string>
#include <thread>

#include "common/privileges.hpp"
#include "common/snapshot.hpp"
#include "dnsd/health/checker.hpp"
#include "dnsd/server/serving_state.hpp"
#include "dnsd/server/stats.hpp"
#include "dnsd/server/top_clients.hpp"

namespace signpost::dnsd {
inline namespace server {

struct ControlOptions {
    std::string socket_path;  // empty: no control socket
    common::SocketAccess socket_access;
};

class ControlServer {
  public:
    ControlServer(ControlOptions opts, common::Snapshot<ServingState>& state, Stats& stats,
                  StateReloader& reloader);
    ~ControlServer();
    bool start(std::string& error);
    // Counters for the control thread's own work (explain's geo lookups).
    void set_own_stats(WorkerStats* s) { own_stats_ = s; }
    // Where `top` is answered from.
    void set_top(const TopClients* t) { top_ = t; }
    void set_health(common::Snapshot<HealthState>* h, HealthChecker* checker) {
        health_ = h;
        checker_ = checker;
    }
    void stop();
    std::string handle(std::string_view line);  // one request -> one response line
    // The nodes' serving and check gauges, for the metrics (any thread).
    std::string node_metrics() const;

  private:
    void run();
    ControlOptions opts_;
    common::Snapshot<ServingState>& state_;
    Stats& stats_;
    StateReloader& reloader_;
    int unix_fd_ = -1;
    int stop_fd_ = -1;
    std::thread thread_;
    WorkerStats* own_stats_ = nullptr;
    const TopClients* top_ = nullptr;
    common::Snapshot<HealthState>* health_ = nullptr;
    HealthChecker* checker_ = nullptr;
    HealthFor health_for_;  // explain's view (the control thread's own)
    std::string status();
    std::string node(std::string_view args);
    std::string explain(std::string_view args);
};

}  // namespace server
}  // namespace signpost::dnsd
