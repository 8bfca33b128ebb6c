#include "dnsd/redirect/select.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "common/hash.hpp"

namespace signpost::dnsd {
inline namespace redirect {

namespace {

bool has_family(const EdgeNode& n, common::Family f) {
    return f == common::Family::kV4 ? !n.v4.empty() : !n.v6.empty();
}

// Who may answer this client: the health view (which folds in admin state and
// overrides) or, without one, the config's admin state; a draining node only
// for the subnets its ramp still keeps.
struct Eligibility {
    const EdgeSet& e;
    const HealthView& h;
    common::Family family;
    const common::IpAddress& client;
    unsigned stick;
    // The stickiness subnet's hash, computed on first use: most answers
    // have no tie and no drain, and never need it.
    std::uint64_t subnet() const {
        if (!subnet_known) {
            subnet_value = subnet_hash(client.masked(stick));
            subnet_known = true;
        }
        return subnet_value;
    }
    mutable std::uint64_t subnet_value = 0;
    mutable bool subnet_known = false;

    bool operator()(std::uint32_t i, bool ignore_health) const {
        const auto& n = e.nodes[i];
        if (!has_family(n, family)) return false;
        if (ignore_health) return true;
        return up(i) && kept(i);
    }
    bool up(std::uint32_t i) const {
        const auto& v = family == common::Family::kV4 ? h.up_v4 : h.up_v6;
        if (v.empty()) return e.nodes[i].admin_up;
        return i < v.size() && v[i];
    }
    double keep(std::uint32_t i) const { return i < h.keep.size() ? h.keep[i] : 1.0; }
    bool kept(std::uint32_t i) const {
        const double k = keep(i);
        if (k >= 1.0) return true;
        if (k <= 0.0) return false;
        hashed = true;  // the answer now depends on the stickiness subnet
        return drain_point(subnet(), e.nodes[i].name_hash) < k;
    }
    mutable bool hashed = false;
};

// Picks from one entry: highest weight among eligible candidates, ties
// spread by weighted rendezvous hashing (weights: the nodes' capacities),
// then lower weights in descending order. Streams the entry keeping the best
// `answers` (at most NodeList::kMax): no allocation, any entry size.
void pick(const EdgeSet& e, const MapEntry& entry, const Eligibility& ok, bool ignore_health,
          unsigned answers, Decision& d) {
    std::uint32_t top = 0;
    std::size_t tied = 0;
    for (const auto& m : entry.members) {
        if (!ok(m.node, ignore_health)) continue;
        if (m.weight > top) {
            top = m.weight;
            tied = 0;
        }
        tied += m.weight == top;
    }
    if (tied == 0) return;
    d.hashed = tied > 1;
    struct Cand {
        std::uint32_t node, weight;
        double score;
        bool operator>(const Cand& o) const {
            return weight != o.weight ? weight > o.weight : score > o.score;
        }
    };
    Cand best[NodeList::kMax];
    std::size_t nb = 0;
    const std::size_t k = std::min<std::size_t>(answers, NodeList::kMax);
    for (const auto& m : entry.members) {
        if (!ok(m.node, ignore_health)) continue;
        const auto& n = e.nodes[m.node];
        Cand c{m.node, m.weight,
               m.weight == top && d.hashed ? rendezvous_score(ok.subnet(), n.name_hash, n.weight)
                                           : 0.0};
        if (nb == k && !(c > best[nb - 1])) continue;
        std::size_t i = nb < k ? nb++ : k - 1;  // insertion sort into the top k
        while (i > 0 && c > best[i - 1]) {
            best[i] = best[i - 1];
            --i;
        }
        best[i] = c;
    }
    for (std::size_t i = 0; i < nb; ++i) d.nodes.push_back(best[i].node);
}

}  // namespace

std::uint64_t subnet_hash(const common::IpAddress& masked) {
    std::uint64_t a = 0, b = 0;
    std::memcpy(&a, masked.bytes(), 8);
    if (!masked.is_v4()) std::memcpy(&b, masked.bytes() + 8, 8);
    return common::mix64(a ^ common::mix64(b ^ (masked.is_v4() ? 4 : 6)));
}

double rendezvous_score(std::uint64_t subnet, std::uint64_t node_hash, std::uint32_t weight) {
    // u uniform in (0, 1) from the pair; score = -w / ln(u): the max over nodes
    // is node i with probability w_i / sum(w).
    const std::uint64_t h = common::mix64(subnet ^ node_hash);
    const double u = (static_cast<double>(h >> 11) + 0.5) / 9007199254740992.0;  // 2^53
    return -static_cast<double>(weight == 0 ? 1 : weight) / std::log(u);
}

double drain_point(std::uint64_t subnet, std::uint64_t node_hash) {
    // A different mix than the rendezvous score's, so the subnets that leave a
    // draining node first are not the ones it held most strongly.
    const std::uint64_t h = common::mix64(subnet + 0x9e3779b97f4a7c15ULL * (node_hash | 1));
    return static_cast<double>(h >> 11) / 9007199254740992.0;
}

std::string step_name(const Chain::Step& s) {
    switch (s.tier) {
        case Tier::kCidr:
            return s.cidr->to_string();
        case Tier::kAsn:
            return "AS" + std::to_string(s.asn);
        case Tier::kCountry:
        case Tier::kContinent:
            return *s.code;
        case Tier::kNearest:
            return "nearest";
        default:
            return "default";
    }
}

Decision decide(const EdgeSet& e, const RedirectConfig& r, const CompiledMap* map,
                common::Family family, const ClientKey& client, const HealthView& health,
                std::uint64_t rr_counter, const RangeHit* looked_up) {
    Decision d;
    const unsigned stick = client.address.is_v4() ? r.stick_v4 : r.stick_v6;
    const Eligibility ok{e, health, family, client.address, stick};

    if (!map || !map->ready()) {
        // No geo table yet (geoipd never reached): weighted round robin over
        // the fallback pool; a draining node's weight shrinks with its ramp.
        d.tier = Tier::kFallback;
        d.ttl = r.fallback_ttl;
        d.scope = 0;
        const auto& members = r.fallback.members;
        bool ignore = false;  // no member with weight left: fail open over the pool
        auto weight_of = [&](const MapEntry::Member& m) -> std::uint64_t {
            if (!has_family(e.nodes[m.node], family)) return 0;
            const std::uint64_t w = m.weight ? m.weight : 1;
            if (ignore) return w;
            if (!ok.up(m.node)) return 0;
            const double k = ok.keep(m.node);
            return k >= 1.0 ? w : static_cast<std::uint64_t>(static_cast<double>(w) * k);
        };
        std::uint64_t total = 0;
        for (const auto& m : members) total += weight_of(m);
        if (total == 0) {
            ignore = true;
            for (const auto& m : members) total += weight_of(m);
        }
        if (total == 0) return d;
        std::uint64_t pos = rr_counter % total;
        for (std::size_t k = 0; k < members.size(); ++k) {
            const std::uint64_t w = weight_of(members[k]);
            if (pos >= w) {
                pos -= w;
                continue;
            }
            // This member, then the following ones with weight, in order.
            for (std::size_t j = 0; j < members.size() && d.nodes.size() < r.answers; ++j) {
                const auto& o = members[(k + j) % members.size()];
                if (weight_of(o) > 0) d.nodes.push_back(o.node);
            }
            break;
        }
        return d;
    }

    // One lookup: the chain of entries this client's range walks, and how
    // far around the client the range (and so the chain) extends.
    const CompiledMap::Hit hit = looked_up ? *looked_up : map->find(client.address);
    const Chain& chain = *hit.chain;
    for (std::size_t i = 0; i < chain.size; ++i) {
        const auto& t = chain.steps[i];
        pick(e, *t.entry, ok, false, r.answers, d);
        if (d.nodes.empty()) continue;
        d.tier = t.tier;
        d.step = &t;
        d.ttl = r.ttl;
        d.scope = hit.scope;
        // A hashed tie, or a drain that kept or moved this subnet (here or in
        // a tier above), makes the answer specific to the stickiness subnet.
        if (d.hashed || ok.hashed) d.scope = std::max(d.scope, stick);
        // Not capped at the source prefix: when the answer changes inside the
        // client's subnet, a scope longer than SOURCE tells the resolver so
        // (RFC 7871 7.2.1); a scope of SOURCE would let it cache this answer
        // for addresses of the subnet that get another one.
        return d;
    }
    // Nothing up anywhere: fail open, as if every node were up, from the most
    // specific entry that has candidates of this family at all.
    for (std::size_t i = 0; i < chain.size; ++i) {
        const auto& t = chain.steps[i];
        pick(e, *t.entry, ok, true, r.answers, d);
        if (d.nodes.empty()) continue;
        d.tier = Tier::kFailOpen;
        d.step = &t;
        d.ttl = r.fallback_ttl;
        // Still this client's chain: scope 0 would let a resolver give this
        // answer to clients whose chain fails open elsewhere.
        d.scope = hit.scope;
        if (d.hashed) d.scope = std::max(d.scope, stick);
        return d;
    }
    return d;
}

Explanation explain(const Decision& d, const EdgeSet& e, const RedirectConfig& r,
                    common::Family family, const ClientKey& client, const HealthView& health) {
    Explanation x;
    const MapEntry* entry = nullptr;
    if (d.tier == Tier::kFallback) {
        x.entry = "fallback";
        entry = &r.fallback;
    } else if (d.step) {
        x.entry = step_name(*d.step);
        entry = d.step->entry;
    }
    if (!entry) return x;
    const unsigned stick = client.address.is_v4() ? r.stick_v4 : r.stick_v6;
    const Eligibility ok{e, health, family, client.address, stick};
    for (const auto& m : entry->members) {
        const auto& n = e.nodes[m.node];
        std::string s = n.name + " weight " + std::to_string(m.weight) + " (capacity " +
                        std::to_string(n.weight) + ")";
        if (!has_family(n, family)) {
            s += ", no " + std::string(family == common::Family::kV4 ? "IPv4" : "IPv6");
        } else if (!ok.up(m.node)) {
            s += health.up_v4.empty() && health.up_v6.empty() ? ", admin down" : ", down";
        } else if (ok.keep(m.node) < 1.0) {
            char pct[64];
            std::snprintf(pct, sizeof pct, ", draining (%.0f%% of subnets kept): %s",
                          ok.keep(m.node) * 100.0,
                          ok.kept(m.node) ? "this subnet kept" : "this subnet moved off");
            s += pct;
        } else {
            s += ", up";
        }
        x.candidates.push_back(std::move(s));
    }
    return x;
}

}  // namespace redirect
}  // namespace signpost::dnsd
