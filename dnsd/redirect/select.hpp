#pragma once
// The redirect decision: which nodes answer a client, and how far that answer
// may be cached (the ECS scope). Pure: inputs in, decision out; the clock,
// randomness and health come in as arguments, so tests can drive every case.

#include <cstdint>
#include <string>
#include <vector>

#include "common/ip_address.hpp"
#include "dnsd/redirect/decisions.hpp"
#include "dnsd/redirect/health_view.hpp"
#include "dnsd/redirect/nodes.hpp"

namespace signpost::dnsd {
inline namespace redirect {

struct ClientKey {
    common::IpAddress address;  // ECS address, or the query's source
    unsigned source_len = 0;    // ECS source prefix, or the full width without ECS
    bool from_ecs = false;
};

// Up to 16 chosen nodes, without a heap allocation per query.
class NodeList {
  public:
    static constexpr std::size_t kMax = 16;
    void push_back(std::uint32_t n) {
        if (size_ < kMax) v_[size_++] = n;
    }
    std::size_t size() const { return size_; }
    bool empty() const { return size_ == 0; }
    std::uint32_t operator[](std::size_t i) const { return v_[i]; }
    const std::uint32_t* begin() const { return v_; }
    const std::uint32_t* end() const { return v_ + size_; }

  private:
    std::uint32_t v_[kMax];
    std::size_t size_ = 0;
};

struct Decision {
    Tier tier = Tier::kNone;
    const Chain::Step* step = nullptr;  // the winning entry (nullptr: fallback or none)
    NodeList nodes;                     // chosen, best first
    unsigned scope = 0;                 // ECS scope prefix length
    std::uint32_t ttl = 0;
    bool hashed = false;  // a tie was spread by hashing on the stickiness subnet
};

// map: the redirect's map compiled against the geo table; nullptr or not
// ready when it needs geo facts and no table has arrived (geoipd never
// reached): the answer then comes from the redirect's fallback pool, scope 0.
// rr_counter: per-worker counter for the fallback's weighted round robin.
// hit: map->find(client.address), when the caller has made it already (a
// batch's lookups are made together); nullptr: decide() makes it.
Decision decide(const EdgeSet& edges, const RedirectConfig& redirect, const CompiledMap* map,
                common::Family family, const ClientKey& client, const HealthView& health,
                std::uint64_t rr_counter, const RangeHit* hit = nullptr);

// For `dnsdctl explain`, rebuilt from a decision when asked (the query path
// formats no text): the winning entry's name ("DE", "AS3320",
// "192.0.2.0/24", "default", "fallback"; empty: none) and each of its
// candidates with its weight and state, from the same inputs as decide().
struct Explanation {
    std::string entry;
    std::vector<std::string> candidates;
};
Explanation explain(const Decision& d, const EdgeSet& edges, const RedirectConfig& redirect,
                    common::Family family, const ClientKey& client, const HealthView& health);

// "DE", "AS3320", "192.0.2.0/24", "default".
std::string step_name(const Chain::Step& s);

// Weighted rendezvous hashing (Schindelhauer & Schomaker): the score of a node
// (by its name hash) for a subnet; the highest score wins, and a node of
// weight w wins a share w / sum(w) of all subnets. Exposed for tests.
double rendezvous_score(std::uint64_t subnet_hash, std::uint64_t node_hash, std::uint32_t weight);
// Where a subnet falls in a draining node's ramp: uniform in [0, 1); the
// subnet keeps the node while this is below the node's `keep` fraction.
double drain_point(std::uint64_t subnet_hash, std::uint64_t node_hash);
std::uint64_t subnet_hash(const common::IpAddress& masked);

}  // namespace redirect
}  // namespace signpost::dnsd
