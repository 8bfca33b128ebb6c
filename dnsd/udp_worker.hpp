#pragma once
// One UDP worker thread: its own SO_REUSEPORT socket per listen address, a
// fixed batch of recvmmsg slots, the serving snapshot loaded once per batch,
// and the answers sent back with one sendmmsg.

#include <vector>

#include "common/snapshot.hpp"
#include "dnsd/state.hpp"
#include "dnsd/stats.hpp"

namespace signpost::dnsd {

// Runs until `stop_fd` becomes readable.
void run_udp_worker(const std::vector<int>& fds, common::Snapshot<ServingState>& state,
                    WorkerStats& stats, int stop_fd);

}  // namespace signpost::dnsd
