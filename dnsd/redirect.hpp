#pragma once
// A redirect name's answer: the client key (ECS subnet or source address),
// geo facts from the worker's GeoSource, the decision from select.hpp, and the
// chosen nodes' addresses written as A/AAAA records with the decision's TTL
// and ECS scope.

#include <memory>
#include <string>

#include "dnsd/dynamic.hpp"
#include "dnsd/edge.hpp"
#include "dnsd/select.hpp"

namespace signpost::dnsd {

// RFC 7871 7.1: the ECS subnet when the resolver sent one with a non-zero
// source prefix; otherwise (no ECS, or /0: the resolver withholds the
// address) the query's source address, as a full-length key.
ClientKey client_key(const Query& q, const common::IpAddress& source);

class RedirectAnswer : public DynamicAnswer {
  public:
    RedirectAnswer(std::shared_ptr<const EdgeSet> edges, std::size_t redirect)
        : edges_(std::move(edges)),
          redirect_(redirect),
          map_(&edges_->maps.at(edges_->redirects[redirect].map)) {}

    unsigned answer(DynamicContext& ctx, std::uint16_t qtype, const Owner& owner,
                    Writer& w) const override;
    bool geo_key(const Query& q, const common::IpAddress& source,
                 common::IpAddress& out) const override;

    const RedirectConfig& config() const { return edges_->redirects[redirect_]; }
    const EdgeSet& edges() const { return *edges_; }
    const GeoMap& map() const { return *map_; }

  private:
    std::shared_ptr<const EdgeSet> edges_;
    std::size_t redirect_;
    const GeoMap* map_;  // in *edges_, which this holds
};

}  // namespace signpost::dnsd
