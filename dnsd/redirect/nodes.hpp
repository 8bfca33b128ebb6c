#pragma once
// The CDN side of the configuration: edge nodes, maps of weighted nodes by
// client network, and redirect names bound to a map. Immutable once built;
// part of the serving snapshot.

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/ip_address.hpp"

namespace signpost::dnsd {
inline namespace redirect {

// How a node is checked (issue: health). Defaults come from [health], a
// node's own `check = { ... }` overrides them field by field.
struct CheckConfig {
    enum class Type { kNone, kTcp, kHttp, kHttps };
    Type type = Type::kNone;  // none: always up (admin state still applies)
    std::uint16_t port = 0;   // 0: 80 for http, 443 for https; required for tcp
    std::string path = "/";   // http(s)
    std::string host;         // Host header and TLS SNI; the address is pinned regardless
    std::vector<long> expect{200};
    std::string body;  // a substring the body must contain (empty: any)
    bool tls_verify = true;
    std::uint32_t interval_ms = 2000;
    std::uint32_t connect_timeout_ms = 1000;
    std::uint32_t timeout_ms = 2000;  // total: a peer that accepts and stalls fails here
    std::uint32_t rise = 2;           // consecutive successes to go up
    std::uint32_t fall = 3;           // consecutive failures to go down
    bool operator==(const CheckConfig&) const = default;
};

struct EdgeNode {
    std::string name;
    std::uint64_t name_hash = 0;  // fnv1a(name): the node's identity in hashing
    std::vector<common::IpAddress> v4;
    std::vector<common::IpAddress> v6;
    std::uint32_t weight = 100;  // capacity: shares traffic among equals
    bool admin_up = true;        // "down" in the config takes it out from the start
    CheckConfig check;
    bool own_check = false;  // `check = {...}` on the node itself (beats a map's default)
    // Where HTTP clients are sent (redirectd): "https://fra1.cdn.example.net".
    std::string http_base;
    // Where the node is (a map's nearest tier measures from here).
    bool has_location = false;
    double latitude = 0, longitude = 0;
    int line = 0;
};

// One map entry: nodes with their effective weight (the entry's own weight for
// that node if given, else the node's weight). Higher wins; an ordered
// failover list is simply descending weights.
struct MapEntry {
    struct Member {
        std::uint32_t node;    // index into EdgeSet::nodes
        std::uint32_t weight;  // effective weight within this entry
    };
    std::vector<Member> members;
    int line = 0;
};

// A map's nearest tier: for a client whose geo facts have coordinates, the
// pool's nodes by great-circle distance, nearest first: those within
// margin_km of the nearest share its rank (by capacity), the next ones
// follow as a failover list; only nodes within radius_km (0: any), at most
// `candidates` of them. A client whose location the database says is only
// good to more than max_accuracy_km (its accuracy radius; 0: no bound) passes
// the tier, like one without coordinates.
struct NearestConfig {
    struct Node {
        std::uint32_t node;  // into EdgeSet::nodes
        double latitude, longitude;
    };
    std::vector<Node> nodes;
    double margin_km = 50;
    double radius_km = 0;
    double max_accuracy_km = 500;
    std::uint32_t candidates = 3;
    int line = 0;
};

struct GeoMap {
    std::string name;
    std::string file;  // where it was defined
    // Longest prefix first, so the first match is the most specific.
    std::vector<std::pair<common::Prefix, MapEntry>> cidr;
    std::unordered_map<std::uint32_t, MapEntry> asn;
    std::unordered_map<std::string, MapEntry> country;    // "DE"
    std::unordered_map<std::string, MapEntry> continent;  // "EU"
    MapEntry default_entry;
    bool has_nearest = false;
    NearestConfig nearest;
    // The order of the geo tiers between the CIDR overrides (first) and the
    // default (last): "asn", "nearest", "country", "continent" by default.
    std::vector<std::string> tiers{"asn", "nearest", "country", "continent"};
    // `check = {...}` on the map: the check of its nodes that have none of their own.
    bool has_check = false;
    CheckConfig check;
    int check_line = 0;
    bool needs_geo() const {
        return !asn.empty() || !country.empty() || !continent.empty() || has_nearest;
    }
    // Every node the map can answer with: its entries' members and its
    // nearest pool, each once, in index order.
    std::vector<std::uint32_t> node_indexes() const {
        std::vector<std::uint32_t> out;
        auto add = [&](const MapEntry& e) {
            for (const auto& m : e.members) out.push_back(m.node);
        };
        add(default_entry);
        for (const auto& [p, e] : cidr) add(e);
        for (const auto& [a, e] : asn) add(e);
        for (const auto& [c, e] : country) add(e);
        for (const auto& [c, e] : continent) add(e);
        for (const auto& n : nearest.nodes) out.push_back(n.node);
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
        return out;
    }
};

struct RedirectConfig {
    std::string name;  // "video.cdn.example.net" or "*.video.cdn.example.net"
    std::string map;
    std::uint32_t ttl = 30;
    std::uint32_t answers = 1;  // addresses per answer
    MapEntry fallback;          // weighted round robin when geoipd is unreachable
    std::uint32_t fallback_ttl = 10;
    std::uint8_t stick_v4 = 24;  // stickiness prefix lengths for tie hashing
    std::uint8_t stick_v6 = 48;
    bool export_fallback = true;  // export = "fallback" | "omit" (zone transfers)
    int line = 0;
};

struct GeoipConfig {
    std::string socket;  // empty: no geoipd (maps use CIDR and default only)
};

// [health] settings beyond the check defaults.
struct HealthSettings {
    // Before every address has a first result (bounded by one timeout):
    // kWait: every admin-up node counts as up, then health is used;
    // kUp: health is used at once, unchecked addresses count as up;
    // kDown: health is used at once, unchecked addresses count as down.
    enum class Warmup { kWait, kUp, kDown };
    Warmup warmup = Warmup::kWait;
    std::uint32_t drain_s = 300;           // default ramp of `dnsdctl node NAME drain`
    std::string state_file;                // admin overrides persist here (empty: not persisted)
    std::string external_file;             // marks from another vantage point (empty: none)
    std::uint32_t external_max_age_s = 0;  // older marks are ignored (0: never stale)
};
const char* warmup_name(HealthSettings::Warmup w);

struct EdgeSet {
    std::vector<EdgeNode> nodes;
    std::map<std::string, std::uint32_t> node_index;
    std::map<std::string, GeoMap> maps;
    std::vector<RedirectConfig> redirects;
    GeoipConfig geoip;
    HealthSettings health;
    CheckConfig check_defaults;  // [health]'s check fields
};

}  // namespace redirect
}  // namespace signpost::dnsd
