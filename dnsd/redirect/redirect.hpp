#pragma once
// A redirect name's answer: the client key (ECS subnet or source address),
// the decision from select.hpp over the map compiled against the geo table
// (decisions.hpp), and the chosen nodes' addresses written as A/AAAA records
// with the decision's TTL and ECS scope.

#include <array>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "dnsd/redirect/nodes.hpp"
#include "dnsd/redirect/select.hpp"
#include "dnsd/zone/dynamic_answer.hpp"

namespace signpost::dnsd {
inline namespace redirect {

// RFC 7871 7.1: the ECS subnet when the resolver sent one with a non-zero
// source prefix; otherwise (no ECS, or /0: the resolver withholds the
// address) the query's source address, as a full-length key.
ClientKey client_key(const Query& q, const common::IpAddress& source);

// Where a redirect's answers are counted (WorkerStats::labeled): a slot per
// tier and per node of the EdgeSet; kNoSlot: not counted.
struct RedirectSlots {
    static constexpr std::uint32_t kNoSlot = ~0u;
    std::array<std::uint32_t, static_cast<std::size_t>(Tier::kNone) + 1> tier;
    std::vector<std::uint32_t> node;
    RedirectSlots() { tier.fill(kNoSlot); }
};

class RedirectAnswer : public DynamicAnswer {
  public:
    RedirectAnswer(std::shared_ptr<const EdgeSet> edges, std::size_t redirect,
                   RedirectSlots slots = {})
        : edges_(std::move(edges)),
          redirect_(redirect),
          slots_(std::move(slots)),
          map_(&edges_->maps.at(edges_->redirects[redirect].map)),
          map_index_(static_cast<std::size_t>(std::distance(
              edges_->maps.begin(), edges_->maps.find(edges_->redirects[redirect].map)))) {}

    unsigned answer(DynamicContext& ctx, std::uint16_t qtype, const Owner& owner,
                    Writer& w) const override;
    // Every address of the fallback pool, with fallback_ttl (export = "fallback").
    unsigned transfer_records(std::uint16_t qtype, const Owner& owner, Writer& w) const override;
    std::uint64_t transfer_hash() const override;

    const RedirectConfig& config() const { return edges_->redirects[redirect_]; }
    const EdgeSet& edges() const { return *edges_; }
    const GeoMap& map() const { return *map_; }
    // Its place in EdgeSet::maps, and so in Decisions::maps.
    std::size_t map_index() const { return map_index_; }

  private:
    std::shared_ptr<const EdgeSet> edges_;
    std::size_t redirect_;
    RedirectSlots slots_;
    const GeoMap* map_;  // in *edges_, which this holds
    std::size_t map_index_;
};

}  // namespace redirect
}  // namespace signpost::dnsd
