#pragma once
// DNS over TCP (RFC 7766): pipelined queries on one connection, answered in
// order; an idle timeout; caps on connections in total and per client address,
// so clients that open connections and never close them cannot exhaust us.

#include <vector>

#include "common/snapshot.hpp"
#include "dnsd/server/config.hpp"
#include "dnsd/server/serving_state.hpp"
#include "dnsd/stats/worker_stats.hpp"

namespace signpost::dnsd {
inline namespace redirect {
struct HealthState;
}  // namespace redirect
}  // namespace signpost::dnsd

namespace signpost::dnsd {
inline namespace server {

struct TcpLimits {
    unsigned idle_timeout_ms = 10000;
    unsigned max_connections = 1024;
    unsigned max_per_client = 32;
};

// Serves every listener in `fds` on the calling thread until `stop_fd` is readable.
void run_tcp_server(const std::vector<int>& fds, const TcpLimits& limits,
                    common::Snapshot<ServingState>& state, common::Snapshot<HealthState>& health,
                    WorkerStats& stats, int stop_fd);

}  // namespace server
}  // namespace signpost::dnsd
