#pragma once
// What the query path reads of node health: data only. The health checker
// (health/checker.hpp) computes it from checks, admin overrides and external
// marks and publishes it as a snapshot; the decision (select.hpp) and the
// redirect answers read it. Nothing here depends on how it is computed.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/ip_address.hpp"
#include "dnsd/redirect/nodes.hpp"

namespace signpost::dnsd {
inline namespace redirect {

// Which nodes are up, per family (index = node index), as computed by the
// health checker from checks, admin overrides and external marks. Empty: the
// config's admin state alone decides.
struct HealthView {
    std::vector<bool> up_v4;
    std::vector<bool> up_v6;
    // Draining nodes: the fraction of client subnets that may still get the
    // node (1: all, 0: none). Which subnets leave first is fixed by a hash of
    // (subnet, node), so as the fraction falls subnets leave and never return
    // until the drain ends. Empty: nothing drains.
    std::vector<double> keep;
};

// An operator's override of one node (`dnsdctl node NAME up|down|drain|auto`;
// persisted by health/admin_state.hpp).
enum class AdminMode { kAuto, kUp, kDown, kDrain };
struct AdminOverride {
    AdminMode mode = AdminMode::kAuto;
    std::int64_t since_ms = 0;  // unix time in milliseconds
    std::uint32_t drain_s = 0;  // ramp length (drain only)
};

struct TargetHealth {
    std::string node;
    common::IpAddress address;
    bool checked = false;  // at least one result
    bool up = true;
    std::string reason;      // last failure ("timeout after 2000 ms", "HTTP 503", ...)
    std::int64_t since = 0;  // unix time of the last transition
    double latency_ms = 0;
    std::uint32_t successes = 0, failures = 0;  // consecutive
    std::string external;  // why the external state file marks this address down ("": no mark)
};

// Per node: what overrides the checks.
struct NodeAdmin {
    AdminOverride override;  // kAuto: none
    double keep = 1.0;       // drain ramp: fraction of subnets kept
    std::string external;    // why the external file marks the whole node down ("": no mark)
};

struct HealthState {
    std::shared_ptr<const EdgeSet> edges;  // the node set `view` is indexed by
    HealthView view;                       // empty: config admin state only
    std::vector<TargetHealth> targets;
    std::vector<NodeAdmin> admin;  // per node, same index as edges->nodes
    bool warm = false;
    std::string external_status;         // the external file's state, for status
    std::uint64_t admin_generation = 0;  // overrides up to this set_admin() are in the view
};

// The health view for the node set a batch is answered with. Right after a
// reload the checker's snapshot may describe the previous node set for a
// moment (until the checker re-indexes, about a millisecond); then the view is
// carried over by node name, so nodes that are down, forced down or draining
// stay so across every reload instead of counting as up for that moment.
// One per worker thread; rebuilt only when either snapshot changes.
class HealthFor {
  public:
    const HealthState* get(const std::shared_ptr<const HealthState>& hs,
                           const std::shared_ptr<const EdgeSet>& edges);

  private:
    std::shared_ptr<const HealthState> source_;
    const EdgeSet* for_ = nullptr;
    HealthState translated_;
};

}  // namespace redirect
}  // namespace signpost::dnsd
