#pragma once
// One UDP worker thread per (listen address, worker): its own SO_REUSEPORT
// socket, blocking in recvmmsg(MSG_WAITFORONE) for a batch, the serving
// snapshot loaded once per batch, the answers sent with one sendmmsg. No epoll:
// measured, the extra epoll_wait per batch cost ~7% of queries per second
// (the kernel's UDP path is 95% of the CPU time here; syscalls are the budget).

#include <atomic>

#include "common/snapshot.hpp"
#include "dnsd/server/serving_state.hpp"
#include "dnsd/stats/worker_stats.hpp"

namespace signpost::dnsd {
inline namespace redirect {
struct HealthState;
}  // namespace redirect
}  // namespace signpost::dnsd

namespace signpost::dnsd {
inline namespace server {

// How often a blocked worker wakes to look at `stop`: the bound on shutdown time.
inline constexpr int kUdpStopCheckMs = 200;

// Runs until `stop` is set.
void run_udp_worker(int fd, common::Snapshot<ServingState>& state,
                    common::Snapshot<HealthState>& health, WorkerStats& stats,
                    const std::atomic<bool>& stop);

}  // namespace server
}  // namespace signpost::dnsd
