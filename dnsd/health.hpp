#pragma once
// Health checks: every node's IPv4 and IPv6 addresses checked separately on
// one thread with libcurl's multi interface (tcp: connect only; http/https: a
// GET with the node's address pinned), each with a connect timeout and a
// total timeout, so a peer that accepts and never answers, trickles, or
// stalls TLS fails at its deadline and pins nothing. rise/fall hysteresis;
// results published as an immutable snapshot the query path reads per batch.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/snapshot.hpp"
#include "dnsd/edge.hpp"
#include "dnsd/select.hpp"
#include "dnsd/state.hpp"

namespace signpost::dnsd {

struct TargetHealth {
    std::string node;
    common::IpAddress address;
    bool checked = false;  // at least one result
    bool up = true;
    std::string reason;      // last failure ("timeout after 2000 ms", "HTTP 503", ...)
    std::int64_t since = 0;  // unix time of the last transition
    double latency_ms = 0;
    std::uint32_t successes = 0, failures = 0;  // consecutive
};

struct HealthState {
    const EdgeSet* edges = nullptr;  // the node set `view` is indexed by
    HealthView view;                 // empty until warm-up completes: all up
    std::vector<TargetHealth> targets;
    bool warm = false;
};

class HealthChecker {
  public:
    HealthChecker(common::Snapshot<ServingState>& state, common::Snapshot<HealthState>& out);
    ~HealthChecker();
    void start();
    void stop();

  private:
    struct Target;
    void run();
    void rebuild(const std::shared_ptr<const ServingState>& s);
    void launch(Target& t);
    void finish(Target& t, int curl_code);
    void publish();

    common::Snapshot<ServingState>& state_;
    common::Snapshot<HealthState>& out_;
    std::shared_ptr<const EdgeSet> edges_;
    std::vector<std::unique_ptr<Target>> targets_;
    void* multi_ = nullptr;  // CURLM*
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    std::int64_t started_ms_ = 0;
    bool warm_ = false;
    bool dirty_ = false;
};

}  // namespace signpost::dnsd
