#pragma once
// What one HTTP request is answered with: the client (the TCP peer, or the
// address a trusted proxy names), the host's redirect, and dnsd's decision
// (dnsd/redirect/select.hpp: the same nodes, maps, tiers, weights,
// stickiness and health) turned into a Location. Pure: no I/O, so the unit
// tests drive it directly.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.hpp"
#include "dnsd/redirect/decisions.hpp"
#include "dnsd/redirect/health_view.hpp"
#include "dnsd/redirect/select.hpp"
#include "redirectd/config.hpp"

namespace signpost::redirectd {

// Everything a request is answered from, published whole on each reload
// and each new geo table.
struct RedirectState {
    std::shared_ptr<const HttpConfig> config;
    std::shared_ptr<const dnsd::EdgeSet> edges;  // config->edges, shared with the health checker
    std::shared_ptr<const dnsd::Decisions> decisions;
    std::uint64_t generation = 0;
    std::vector<std::uint32_t> node_slots;  // each node's series in Counters::by_node
};

// The client: `peer` unless it is a trusted proxy; then the address the
// proxy chain names in `header`, the value of the one header [http]
// client_header names (every line of it, joined): X-Forwarded-For's list,
// or with `forwarded_syntax` RFC 7239's for= parameters. The right-most
// entry that is not itself a trusted proxy; an unparseable one ends the walk.
common::IpAddress client_address(const common::IpAddress& peer, std::string_view header,
                                 const std::vector<common::Prefix>& trusted, bool forwarded_syntax);

// The Host header's name: lower case, without port or trailing dot; empty if malformed.
std::string host_name(std::string_view host_header);
// The same into `out` (whose capacity is kept from request to request).
void host_name(std::string_view host_header, std::string& out);

struct Outcome {
    unsigned status = 0;   // 301/302/307/308, or 400, 421, 503
    std::string location;  // redirects
    std::uint32_t ttl = 0;
    dnsd::Tier tier = dnsd::Tier::kNone;
    std::int64_t node = -1;  // index in edges->nodes
    std::string why;         // errors: said in the body (a redirect's body: redirect_body)
};

// `target`: the request-target ("/path?query", or absolute-form). Into `o`,
// every field set, its strings' capacity kept (a connection reuses one).
void decide_request(const RedirectState& st, const dnsd::HealthView& health, std::string_view host,
                    std::string_view target, const common::IpAddress& client,
                    std::uint64_t rr_counter, Outcome& o);
inline Outcome decide_request(const RedirectState& st, const dnsd::HealthView& health,
                              std::string_view host, std::string_view target,
                              const common::IpAddress& client, std::uint64_t rr_counter) {
    Outcome o;
    decide_request(st, health, host, target, client, rr_counter, o);
    return o;
}

// A redirect's small HTML body, appended to `out`: a link to `location`,
// escaped so that nothing in a path can leave the attribute or the element.
void append_redirect_body(std::string_view location, std::string& out);

}  // namespace signpost::redirectd
