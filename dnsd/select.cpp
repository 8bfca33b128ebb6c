#include "dnsd/select.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "common/hash.hpp"

namespace signpost::dnsd {

const char* tier_name(Tier t) {
    switch (t) {
        case Tier::kCidr:
            return "cidr";
        case Tier::kAsn:
            return "asn";
        case Tier::kCountry:
            return "country";
        case Tier::kContinent:
            return "continent";
        case Tier::kDefault:
            return "default";
        case Tier::kFallback:
            return "fallback";
        case Tier::kFailOpen:
            return "fail-open";
        case Tier::kNone:
            return "none";
    }
    return "?";
}

namespace {

unsigned common_prefix_len(const common::IpAddress& a, const common::IpAddress& b) {
    unsigned n = 0;
    for (std::size_t i = 0; i < a.byte_len(); ++i) {
        const unsigned x = a.bytes()[i] ^ b.bytes()[i];
        if (x == 0) {
            n += 8;
            continue;
        }
        return n + static_cast<unsigned>(__builtin_clz(x) - 24);
    }
    return n;
}

bool has_family(const EdgeNode& n, common::Family f) {
    return f == common::Family::kV4 ? !n.v4.empty() : !n.v6.empty();
}

bool is_up(const EdgeSet& e, const HealthView& h, std::uint32_t i, common::Family f) {
    if (!e.nodes[i].admin_up) return false;
    const auto& v = f == common::Family::kV4 ? h.up_v4 : h.up_v6;
    return v.empty() || (i < v.size() && v[i]);
}

// Picks from one entry: highest weight among `eligible` candidates, ties
// spread by weighted rendezvous hashing (weights: the nodes' capacities).
void pick(const EdgeSet& e, const MapEntry& entry, const std::vector<std::uint32_t>& eligible,
          std::uint64_t subnet, unsigned answers, Decision& d) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> c;  // (node, effective weight)
    for (const auto& m : entry.members)
        if (std::find(eligible.begin(), eligible.end(), m.node) != eligible.end())
            c.emplace_back(m.node, m.weight);
    std::uint32_t top = 0;
    for (const auto& [n, w] : c) top = std::max(top, w);
    std::vector<std::pair<double, std::uint32_t>> ranked;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> rest;
    for (const auto& [n, w] : c) {
        if (w == top) {
            ranked.emplace_back(rendezvous_score(subnet, e.nodes[n].name, e.nodes[n].weight), n);
        } else {
            rest.emplace_back(w, n);
        }
    }
    d.hashed = ranked.size() > 1;
    std::sort(ranked.begin(), ranked.end(), [](auto& a, auto& b) { return a.first > b.first; });
    std::sort(rest.begin(), rest.end(), [](auto& a, auto& b) { return a.first > b.first; });
    for (const auto& r : ranked)
        if (d.nodes.size() < answers) d.nodes.push_back(r.second);
    for (const auto& r : rest)
        if (d.nodes.size() < answers) d.nodes.push_back(r.second);
}

}  // namespace

std::uint64_t subnet_hash(const common::IpAddress& masked) {
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, masked.bytes(), 8);
    if (!masked.is_v4()) std::memcpy(&b, masked.bytes() + 8, 8);
    return common::mix64(a ^ common::mix64(b ^ (masked.is_v4() ? 4 : 6)));
}

double rendezvous_score(std::uint64_t subnet, const std::string& node, std::uint32_t weight) {
    // u uniform in (0, 1) from the pair; score = -w / ln(u): the max over nodes
    // is node i with probability w_i / sum(w).
    const std::uint64_t h = common::mix64(subnet ^ common::fnv1a(node));
    const double u = (static_cast<double>(h >> 11) + 0.5) / 9007199254740992.0;  // 2^53
    return -static_cast<double>(weight == 0 ? 1 : weight) / std::log(u);
}

Decision decide(const EdgeSet& e, const RedirectConfig& r, const GeoMap& map, common::Family family,
                const ClientKey& client, const common::GeoAnswer* geo, const HealthView& health,
                std::uint64_t rr_counter, bool want_trail) {
    Decision d;
    const unsigned stick = client.address.is_v4() ? r.stick_v4 : r.stick_v6;
    const std::uint64_t subnet = subnet_hash(client.address.masked(stick));
    auto eligible_of = [&](const MapEntry& entry, bool ignore_health) {
        std::vector<std::uint32_t> v;
        for (const auto& m : entry.members) {
            const auto& n = e.nodes[m.node];
            if (has_family(n, family) && (ignore_health || is_up(e, health, m.node, family)))
                v.push_back(m.node);
        }
        return v;
    };
    auto trail_entry = [&](const MapEntry& entry) {
        if (!want_trail) return;
        for (const auto& m : entry.members) {
            const auto& n = e.nodes[m.node];
            std::string s = n.name + " weight " + std::to_string(m.weight) + " (capacity " +
                            std::to_string(n.weight) + ")";
            if (!has_family(n, family))
                s += ", no " + std::string(family == common::Family::kV4 ? "IPv4" : "IPv6");
            else if (!n.admin_up)
                s += ", admin down";
            else if (!is_up(e, health, m.node, family))
                s += ", health down";
            else
                s += ", up";
            d.trail.push_back(s);
        }
    };

    if (!geo && map.needs_geo()) {
        // geoipd unreachable: weighted round robin over the fallback pool.
        d.tier = Tier::kFallback;
        d.entry = "fallback";
        d.ttl = r.fallback_ttl;
        d.scope = 0;
        trail_entry(r.fallback);
        auto el = eligible_of(r.fallback, false);
        if (el.empty()) el = eligible_of(r.fallback, true);
        std::uint64_t total = 0;
        for (const auto& m : r.fallback.members)
            if (std::find(el.begin(), el.end(), m.node) != el.end())
                total += m.weight ? m.weight : 1;
        if (total == 0) return d;
        std::uint64_t pos = rr_counter % total;
        for (std::size_t k = 0; k < r.fallback.members.size() && d.nodes.size() < r.answers; ++k) {
            const auto& m = r.fallback.members[k];
            if (std::find(el.begin(), el.end(), m.node) == el.end()) continue;
            const std::uint64_t w = m.weight ? m.weight : 1;
            if (pos < w) {
                d.nodes.push_back(m.node);
                // further answers: the following eligible members, in order
                for (std::size_t j = 1; j < r.fallback.members.size() && d.nodes.size() < r.answers;
                     ++j) {
                    const auto& o = r.fallback.members[(k + j) % r.fallback.members.size()];
                    if (std::find(el.begin(), el.end(), o.node) != el.end())
                        d.nodes.push_back(o.node);
                }
                break;
            }
            pos -= w;
        }
        return d;
    }

    // The tiers, most specific first, with the prefix length each depends on.
    struct Candidate {
        Tier tier;
        const MapEntry* entry;
        std::string key;
        unsigned scope;
    };
    std::vector<Candidate> tiers;
    const unsigned geo_len = geo ? geo->prefix.length() : 0;
    // CIDR: the most specific override containing the client. A decision made
    // by an override depends on that override's prefix, unless a longer one
    // nests inside it (then other addresses in it answer differently).
    for (const auto& [p, entry] : map.cidr) {
        if (p.family() != client.address.family() || !p.contains(client.address)) continue;
        // Longer overrides nested in it do not contain the client (this is the
        // most specific match); the answer differs from where they begin.
        unsigned scope = p.length();
        for (const auto& [q, other] : map.cidr)
            if (q.length() > p.length() && p.contains(q))
                scope = std::max(scope, common_prefix_len(client.address, q.address()) + 1);
        tiers.push_back({Tier::kCidr, &entry, p.to_string(), scope});
        break;
    }
    // Not matching an override depends on the client's bits only up to where
    // it first differs from that override: the scope that keeps every other
    // address of the scope prefix equally unmatched is one bit past it.
    auto unmatched_scope = [&](unsigned base) {
        unsigned s = base;
        for (const auto& [q, other] : map.cidr) {
            if (q.family() != client.address.family() || q.contains(client.address)) continue;
            const unsigned cpl = common_prefix_len(client.address, q.address());
            if (cpl < q.length()) s = std::max(s, cpl + 1);
        }
        return s;
    };
    const unsigned geo_scope = geo ? unmatched_scope(geo_len) : 0;
    if (geo && geo->asn != 0) {
        auto it = map.asn.find(geo->asn);
        if (it != map.asn.end())
            tiers.push_back({Tier::kAsn, &it->second, "AS" + std::to_string(geo->asn), geo_scope});
    }
    if (geo && !geo->country.empty()) {
        auto it = map.country.find(geo->country);
        if (it != map.country.end())
            tiers.push_back({Tier::kCountry, &it->second, geo->country, geo_scope});
    }
    if (geo && !geo->continent.empty()) {
        auto it = map.continent.find(geo->continent);
        if (it != map.continent.end())
            tiers.push_back({Tier::kContinent, &it->second, geo->continent, geo_scope});
    }
    // The default depends on no tier above matching: the geo prefix when the
    // map has geo tiers, and the overrides' bits either way.
    const unsigned default_scope = map.needs_geo() ? geo_scope : unmatched_scope(0);
    tiers.push_back({Tier::kDefault, &map.default_entry, "default", default_scope});

    for (const auto& t : tiers) {
        auto el = eligible_of(*t.entry, false);
        if (el.empty()) continue;
        d.tier = t.tier;
        d.entry = t.key;
        d.ttl = r.ttl;
        trail_entry(*t.entry);
        pick(e, *t.entry, el, subnet, r.answers, d);
        d.scope = t.scope;
        if (d.hashed) d.scope = std::max(d.scope, stick);
        d.scope = std::min(d.scope, client.source_len);
        return d;
    }
    // Nothing up anywhere: fail open, as if every node were up, from the most
    // specific entry that has candidates of this family at all.
    for (const auto& t : tiers) {
        auto el = eligible_of(*t.entry, true);
        if (el.empty()) continue;
        d.tier = Tier::kFailOpen;
        d.entry = t.key;
        d.ttl = r.fallback_ttl;
        trail_entry(*t.entry);
        pick(e, *t.entry, el, subnet, r.answers, d);
        d.scope = 0;
        return d;
    }
    return d;
}

}  // namespace signpost::dnsd
