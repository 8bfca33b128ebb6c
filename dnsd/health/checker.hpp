#pragma once
// Health checks: every node's IPv4 and IPv6 addresses checked separately on
// one thread with libcurl's multi interface (tcp: connect only; http/https: a
// GET with the node's address pinned), each with a connect timeout and a
// total timeout, so a peer that accepts and never answers, trickles, or
// stalls TLS fails at its deadline and pins nothing. rise/fall hysteresis;
// results published as an immutable snapshot the query path reads per batch.
// The published view also folds in the config's admin state, the operator's
// overrides (dnsdctl node ..., persisted in the state file), drain ramps and
// marks from the external state file (see admin_state.hpp).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "common/file_watch.hpp"
#include "common/snapshot.hpp"
#include "dnsd/health/admin_state.hpp"
#include "dnsd/redirect/health_view.hpp"
#include "dnsd/redirect/nodes.hpp"
#include "dnsd/redirect/select.hpp"

namespace signpost::dnsd {
inline namespace health {

struct AdminResult {
    bool ok = false;
    std::string error;
    bool persisted = false;  // written to the state file
    AdminOverride applied;
    std::uint64_t generation = 0;  // in the view once HealthState::admin_generation >= this
};

class HealthChecker {
  public:
    // The node set to check, as currently configured: the checker calls it on
    // its thread (after notify(), and every loop) and re-indexes when the
    // returned set changes. Never null.
    using NodeSource = std::function<std::shared_ptr<const EdgeSet>()>;
    HealthChecker(NodeSource nodes, common::Snapshot<HealthState>& out);
    ~HealthChecker();
    // Loads the admin state file and the external file and publishes the
    // first view before returning (so no query sees a node the operator
    // forced down), then checks on a thread of its own.
    void start();
    void stop();
    // Wake the checker: a new configuration was published.
    void notify();
    // For a process that shares the admin state file but never writes it
    // (redirectd beside dnsd): the file is read again whenever it changes,
    // so `dnsdctl node ...` applies here too within a second. Before start().
    void follow_state_file() { follow_state_file_ = true; }
    // `dnsdctl node NAME MODE`: validated against the current configuration,
    // written to the state file (if one is configured) before it applies.
    AdminResult set_admin(const std::string& node, AdminMode mode,
                          std::optional<std::uint32_t> drain_s);

  private:
    struct Target;
    void run();
    void rebuild(const std::shared_ptr<const EdgeSet>& edges);
    void launch(Target& t);
    void finish(Target& t, int curl_code);
    void publish(std::int64_t now_ms);
    void check_external(std::int64_t now_ms);
    bool target_ok(const Target& t) const;
    static int on_socket(void* easy, int fd, int what, void* self, void* socketp);
    static int on_timer(void* multi, long timeout_ms, void* self);

    NodeSource nodes_;
    common::Snapshot<HealthState>& out_;
    std::shared_ptr<const EdgeSet> edges_;
    std::vector<std::unique_ptr<Target>> targets_;
    void* multi_ = nullptr;            // CURLM*
    int epoll_fd_ = -1;                // curl's sockets and wake_fd_
    int wake_fd_ = -1;                 // eventfd: notify() and stop()
    std::int64_t curl_timer_ms_ = -1;  // when curl wants socket_action(TIMEOUT); -1: never
    // Targets waiting for their next check: (due time, index into targets_), earliest first.
    std::priority_queue<std::pair<std::int64_t, std::size_t>,
                        std::vector<std::pair<std::int64_t, std::size_t>>, std::greater<>>
        due_;
    std::size_t pending_first_ = 0;  // checked targets without a first result
    std::int64_t warm_deadline_ms_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
    std::int64_t started_ms_ = 0;
    bool warm_ = false;
    bool dirty_view_ = false;  // what queries see may have changed: publish now
    bool dirty_info_ = false;  // only status details changed: publish within 200 ms
    std::int64_t last_publish_ms_ = 0;
    bool draining_ = false;  // a ramp is running: republish as it moves

    std::mutex admin_mu_;  // control thread writes, checker thread reads
    AdminOverrides admin_;
    std::uint64_t admin_generation_ = 0;  // bumped by each set_admin(), under admin_mu_
    std::atomic<bool> admin_changed_{false};

    bool follow_state_file_ = false;
    common::FileWatcher::Identity state_file_id_;
    std::int64_t state_file_next_ms_ = 0;
    void check_state_file(std::int64_t now);
    // Reads the state file into admin_ (under admin_mu_); says what it holds.
    void read_state_file(const EdgeSet& edges);

    std::string external_path_;
    common::FileWatcher::Identity external_id_;
    std::int64_t external_next_ms_ = 0;
    bool external_stale_ = false;
    std::vector<ExternalMark> external_;
    std::string external_status_;
};

}  // namespace health
}  // namespace signpost::dnsd
