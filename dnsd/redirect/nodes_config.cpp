#include "dnsd/redirect/nodes_config.hpp"

#include "common/country_continent.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>
#include "common/hash.hpp"
#include "dnsd/config/schema.hpp"
#include "dnsd/redirect/select.hpp"

namespace signpost::dnsd {
inline namespace redirect {

namespace {

using config::describe;
using config::Key;
using config::line_of;
using config::Problem;
using config::Source;

const std::vector<Key<CheckConfig>>& check_keys() {
    using C = CheckConfig;
    static const std::vector<Key<C>> keys = {
        config::choice<C>(
            "type", [](auto& c) -> auto& { return c.type; },
            std::vector<std::pair<const char*, C::Type>>{{"none", C::Type::kNone},
                                                         {"tcp", C::Type::kTcp},
                                                         {"http", C::Type::kHttp},
                                                         {"https", C::Type::kHttps}},
            "How a node is checked: none (always up), a TCP connect, or an HTTP(S) "
            "GET with the node's address pinned"),
        config::integer<C>(
            "port", [](auto& c) -> auto& { return c.port; }, 0, 65535,
            "The port checked (0: 80 for http, 443 for https; tcp needs one)"),
        config::string<C>(
            "path", [](auto& c) -> auto& { return c.path; }, "The HTTP(S) path, starting with '/'"),
        config::string<C>(
            "host", [](auto& c) -> auto& { return c.host; },
            "Host header and TLS SNI (empty: the address); the address is pinned"),
        config::custom<C>(
            "expect", "list of HTTP statuses 100..599", "The statuses that count as up", false,
            [](C& c, const toml::node& n, const Source& src) {
                const auto* arr = n.as_array();
                if (!arr || arr->empty())
                    src.fail(n, "expect: a list of HTTP status codes, like [200, 204]");
                c.expect.clear();
                for (const auto& x : *arr) {
                    const auto* i = x.as_integer();
                    if (!i || i->get() < 100 || i->get() > 599)
                        src.fail(x, "expect: " + describe(x) + " is not an HTTP status");
                    c.expect.push_back(static_cast<long>(i->get()));
                }
            },
            [](const C& c) {
                std::string s = "[";
                for (const long v : c.expect) s += (s.size() > 1 ? ", " : "") + std::to_string(v);
                return s + "]";
            }),
        config::string<C>(
            "body", [](auto& c) -> auto& { return c.body; },
            "A substring the body must contain (empty: any body)"),
        config::boolean<C>(
            "tls_verify", [](auto& c) -> auto& { return c.tls_verify; },
            "Verify the node's certificate (https)"),
        config::integer<C>(
            "interval_ms", [](auto& c) -> auto& { return c.interval_ms; }, 100, 3600000,
            "Time between checks of one address"),
        config::integer<C>(
            "connect_timeout_ms", [](auto& c) -> auto& { return c.connect_timeout_ms; }, 10, 600000,
            "Connect deadline, at most timeout_ms"),
        config::integer<C>(
            "timeout_ms", [](auto& c) -> auto& { return c.timeout_ms; }, 10, 600000,
            "Total deadline: a node that accepts and stalls fails here"),
        config::integer<C>(
            "rise", [](auto& c) -> auto& { return c.rise; }, 1, 1000,
            "Consecutive successes that bring an address up"),
        config::integer<C>(
            "fall", [](auto& c) -> auto& { return c.fall; }, 1, 1000,
            "Consecutive failures that take an address down"),
    };
    return keys;
}

const std::vector<Key<HealthSettings>>& health_keys() {
    using H = HealthSettings;
    static const std::vector<Key<H>> keys = {
        config::choice<H>(
            "warmup", [](auto& h) -> auto& { return h.warmup; },
            std::vector<std::pair<const char*, H::Warmup>>{
                {"wait", H::Warmup::kWait}, {"up", H::Warmup::kUp}, {"down", H::Warmup::kDown}},
            "Until every address has a first result (at most one timeout): wait counts every "
            "admin-up node as up; up/down use health at once, unchecked addresses up/down"),
        config::integer<H>(
            "drain_seconds", [](auto& h) -> auto& { return h.drain_s; }, 0, 86400 * 7,
            "The default ramp of `dnsdctl node NAME drain`"),
        config::string<H>(
            "state_file", [](auto& h) -> auto& { return h.state_file; },
            "Where admin overrides are kept across restarts (empty: not kept)"),
        config::string<H>(
            "external_file", [](auto& h) -> auto& { return h.external_file; },
            "Marks from another vantage point, \"NAME [ADDRESS] down [REASON]\" "
            "per line (empty: none)"),
        config::integer<H>(
            "external_max_age_s", [](auto& h) -> auto& { return h.external_max_age_s; }, 0,
            86400 * 365, "External marks older than this are ignored (0: never stale)"),
    };
    return keys;
}

const std::vector<Key<GeoipConfig>>& geoip_keys() {
    static const std::vector<Key<GeoipConfig>> keys = {
        config::string<GeoipConfig>(
            "socket", [](auto& g) -> auto& { return g.socket; },
            "geoipd's socket; dnsd subscribes to its geo table (empty: no geoipd, maps use CIDR "
            "and default entries only)"),
    };
    return keys;
}

const std::vector<Key<RedirectConfig>>& redirect_keys() {
    using R = RedirectConfig;
    static const std::vector<Key<R>> keys = {
        config::string<R>(
            "name", [](auto& r) -> auto& { return r.name; },
            "The name answered, like \"video.cdn.example.net\" or a wildcard "
            "\"*.img.cdn.example.net\" (required)"),
        config::string<R>(
            "map", [](auto& r) -> auto& { return r.map; }, "The map that decides (required)"),
        config::integer<R>(
            "ttl", [](auto& r) -> auto& { return r.ttl; }, 0, 86400,
            "TTL of answers from the map, in seconds"),
        config::integer<R>(
            "answers", [](auto& r) -> auto& { return r.answers; }, 1,
            static_cast<long long>(NodeList::kMax),
            "Nodes per answer, best first, each with all its addresses"),
        config::integer<R>(
            "fallback_ttl", [](auto& r) -> auto& { return r.fallback_ttl; }, 0, 86400,
            "TTL of answers from the fallback pool (no geo table yet) or failed "
            "open"),
        config::integer<R>(
            "stickiness_v4", [](auto& r) -> auto& { return r.stick_v4; }, 0, 32,
            "Ties are spread by hashing the client's IPv4 subnet of this length"),
        config::integer<R>(
            "stickiness_v6", [](auto& r) -> auto& { return r.stick_v6; }, 0, 128,
            "... and IPv6 subnet of this length"),
        config::choice<R>(
            "export", [](auto& r) -> auto& { return r.export_fallback; },
            std::vector<std::pair<const char*, bool>>{{"fallback", true}, {"omit", false}},
            "What a zone transfer gives secondaries for this name: \"fallback\", every address "
            "of the fallback pool (weighted round robin's nodes) with fallback_ttl, so a stock "
            "secondary answers real, non-geo addresses; \"omit\", nothing (its clients get "
            "NXDOMAIN or NODATA there)"),
    };
    return keys;
}

const std::vector<Key<EdgeNode>>& node_keys() {
    static const std::vector<Key<EdgeNode>> keys = {
        config::string<EdgeNode>(
            "name", [](auto& n) -> auto& { return n.name; },
            "The node's name, without ':', '#' or white space (required)"),
        config::integer<EdgeNode>(
            "weight", [](auto& n) -> auto& { return n.weight; }, 1, 1000000,
            "Capacity: nodes of equal entry weight share clients in this "
            "proportion"),
        config::string<EdgeNode>(
            "http_base", [](auto& n) -> auto& { return n.http_base; },
            "Where redirectd sends HTTP clients of this node: scheme, host and optional port "
            "(\"https://fra1.cdn.example.net\"), the request's path and query appended; dnsd "
            "does not use it"),
        config::choice<EdgeNode>(
            "admin", [](auto& n) -> auto& { return n.admin_up; },
            std::vector<std::pair<const char*, bool>>{{"up", true}, {"down", false}, {"", true}},
            "down takes the node out of service from the start (\"\": up)"),
    };
    return keys;
}

// Keys a table has beyond its rows, read by code here (lists of nodes and
// addresses, nested tables): for unknown-key errors and the reference.
const std::vector<std::string> kNodeKeysInCode = {"ipv4", "ipv6", "check", "latitude", "longitude"};
const std::vector<std::string> kRedirectKeysInCode = {"fallback"};

class Reader {
  public:
    Reader(EdgeSet& e, std::string file) : e_(e), file_(std::move(file)) {}
    const std::string& file() const { return file_; }
    [[noreturn]] void fail(const toml::node& n, const std::string& what) const {
        throw Problem{file_, line_of(n), what};
    }

    std::uint32_t integer(const toml::table& t, const char* key, std::uint32_t def,
                          std::uint32_t lo, std::uint32_t hi) const {
        const toml::node* n = t.get(key);
        if (!n) return def;
        const auto* v = n->as_integer();
        if (!v || v->get() < lo || v->get() > hi)
            fail(*n, std::string(key) + " = " + describe(*n) + ": expected an integer " +
                         std::to_string(lo) + ".." + std::to_string(hi));
        return static_cast<std::uint32_t>(v->get());
    }
    // A distance in kilometres, 0..20,040 (half the Earth's circumference).
    double km(const toml::table& t, const char* key, double def) const {
        const toml::node* n = t.get(key);
        if (!n) return def;
        const auto v = n->value<double>();
        if (!v || !(*v >= 0 && *v <= 20040))  // (NaN too)
            fail(*n, std::string(key) + " = " + describe(*n) + ": expected kilometres, 0..20040");
        return *v;
    }
    std::string string(const toml::table& t, const char* key, bool required) const {
        const toml::node* n = t.get(key);
        if (!n) {
            if (required) throw Problem{file_, line_of(t), std::string("missing ") + key};
            return {};
        }
        if (!n->as_string()) fail(*n, std::string(key) + ": expected a string");
        return n->as_string()->get();
    }
    void known(const toml::table& t, std::initializer_list<const char*> keys, const char* where,
               std::initializer_list<const char*> more = {}) const {
        for (const auto& [k, v] : t) {
            const std::string_view key = k.str();  // (clang 14 cannot capture bindings)
            auto is = [&](const char* x) { return key == x; };
            if (std::none_of(keys.begin(), keys.end(), is) &&
                std::none_of(more.begin(), more.end(), is))
                fail(v, "unknown key '" + std::string(key) + "' in " + where);
        }
    }

    // ["fra1", "ams1:50"]: node names, each with an optional entry weight.
    MapEntry entry(const toml::node& n) const {
        MapEntry m;
        m.line = line_of(n);
        const auto* arr = n.as_array();
        if (!arr || arr->empty())
            fail(n, "expected a non-empty list of nodes like [\"fra1\", \"ams1:50\"]");
        std::set<std::uint32_t> seen;
        for (const auto& item : *arr) {
            const auto* s = item.as_string();
            if (!s) fail(item, "expected a node name, got " + describe(item));
            std::string name = s->get();
            std::uint32_t weight = 0;
            if (auto c = name.find(':'); c != std::string::npos) {
                const std::string w = name.substr(c + 1);
                auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), weight);
                if (ec != std::errc() || p != w.data() + w.size() || weight == 0 ||
                    weight > 1000000)
                    fail(item, "bad weight in \"" + s->get() + "\" (expected NODE:1..1000000)");
                name.resize(c);
            }
            auto it = e_.node_index.find(name);
            if (it == e_.node_index.end()) fail(item, "unknown node \"" + name + "\"");
            if (!seen.insert(it->second).second) fail(item, "node \"" + name + "\" listed twice");
            m.members.push_back({it->second, weight ? weight : e_.nodes[it->second].weight});
        }
        return m;
    }

    GeoMap map(const std::string& name, const toml::table& t) const {
        GeoMap g;
        g.name = name;
        g.file = file_;
        known(
            t,
            {"file", "default", "cidr", "asn", "country", "continent", "check", "nearest", "tiers"},
            ("map " + name).c_str());
        if (const toml::node* n = t.get("nearest")) {
            const auto* nt = n->as_table();
            if (!nt)
                fail(*n,
                     "nearest: expected a table like { nodes = [\"fra1\", \"mad1\"], "
                     "margin_km = 50 }");
            known(*nt, {"nodes", "margin_km", "radius_km", "candidates", "max_accuracy_km"},
                  "nearest");
            g.has_nearest = true;
            g.nearest.line = line_of(*n);
            const toml::node* list = nt->get("nodes");
            if (!list) fail(*n, "nearest: needs nodes = [...], the pool sorted by distance");
            for (const auto& m : entry(*list).members) {
                const auto& node = e_.nodes[m.node];
                if (!node.has_location)
                    fail(*list, "nearest: node " + node.name + " (line " +
                                    std::to_string(node.line) + ") has no latitude and longitude");
                g.nearest.nodes.push_back({m.node, node.latitude, node.longitude});
            }
            g.nearest.margin_km = km(*nt, "margin_km", g.nearest.margin_km);
            g.nearest.radius_km = km(*nt, "radius_km", g.nearest.radius_km);
            g.nearest.max_accuracy_km = km(*nt, "max_accuracy_km", g.nearest.max_accuracy_km);
            g.nearest.candidates = integer(*nt, "candidates", g.nearest.candidates, 1, 16);
        }
        if (const toml::node* n = t.get("tiers")) {
            const auto* arr = n->as_array();
            std::vector<std::string> order;
            for (std::size_t i = 0; arr && i < arr->size(); ++i)
                if (const auto* s = (*arr)[i].as_string()) order.push_back(s->get());
            std::vector<std::string> sorted = order;
            std::sort(sorted.begin(), sorted.end());
            const std::vector<std::string> want{"asn", "continent", "country", "nearest"};
            if (!arr || order.size() != arr->size() || sorted != want)
                fail(*n,
                     "tiers: expected the order of \"asn\", \"nearest\", \"country\" and "
                     "\"continent\", each once (CIDR overrides come first, the default "
                     "last)");
            g.tiers = order;
        }
        const toml::node* def = t.get("default");
        if (!def) throw Problem{file_, line_of(t), "map " + name + " has no default = [...]"};
        g.default_entry = entry(*def);
        if (const toml::node* c = t.get("cidr")) {
            if (!c->as_table()) fail(*c, "cidr: expected a table of \"prefix\" = [nodes]");
            for (const auto& [k, v] : *c->as_table()) {
                auto p = common::Prefix::parse(k.str(), /*strict=*/true);
                if (!p)
                    fail(v, "cidr: \"" + std::string(k.str()) +
                                "\" is not a prefix with no host bits set");
                g.cidr.emplace_back(*p, entry(v));
            }
            std::stable_sort(g.cidr.begin(), g.cidr.end(),
                             [](auto& a, auto& b) { return a.first.length() > b.first.length(); });
        }
        if (const toml::node* a = t.get("asn")) {
            if (!a->as_table()) fail(*a, "asn: expected a table of \"AS64500\" = [nodes]");
            for (const auto& [k, v] : *a->as_table()) {
                std::string key(k.str());
                if (key.starts_with("AS") || key.starts_with("as")) key = key.substr(2);
                std::uint32_t asn = 0;
                auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), asn);
                if (ec != std::errc() || p != key.data() + key.size() || asn == 0)
                    fail(v, "asn: \"" + std::string(k.str()) + "\" is not an AS number");
                g.asn.emplace(asn, entry(v));
            }
        }
        for (const char* tier : {"country", "continent"}) {
            const toml::node* c = t.get(tier);
            if (!c) continue;
            if (!c->as_table())
                fail(*c, std::string(tier) + ": expected a table of CODE = [nodes]");
            for (const auto& [k, v] : *c->as_table()) {
                std::string code(k.str());
                if (code.size() != 2 || !std::isupper(static_cast<unsigned char>(code[0])) ||
                    !std::isupper(static_cast<unsigned char>(code[1])))
                    fail(v, std::string(tier) + ": \"" + code +
                                "\" is not a two-letter upper-case code");
                // A code no database uses would route nobody: a typo, said now.
                if (std::string(tier) == "country" && common::continent_of_country(code).empty())
                    fail(v, "country: \"" + code +
                                "\" is not an ISO 3166-1 country code (nor XK, EU or AP, which "
                                "registries use)");
                if (std::string(tier) == "continent" && !common::is_continent(code))
                    fail(v, "continent: \"" + code +
                                "\" is not a continent code (AF, AN, AS, EU, NA, OC or SA)");
                (std::string(tier) == "country" ? g.country : g.continent).emplace(code, entry(v));
            }
        }
        return g;
    }

  private:
    EdgeSet& e_;
    std::string file_;
};

// Reads check fields from `t` over `c` (the [health] defaults). [health]
// also holds the settings of health checking as a whole (`global`).
CheckConfig read_check(Reader& r, const toml::table& t, CheckConfig c, bool global = false) {
    const Source src{r.file()};
    config::read_table<CheckConfig>(
        t, check_keys(), c, src, global ? "[health]" : "a health check",
        global ? config::names<HealthSettings>(health_keys()) : std::vector<std::string>{});
    // Rules beyond one key's type and range.
    if (c.path.empty() || c.path[0] != '/') r.fail(*t.get("path"), "path must start with '/'");
    if (c.connect_timeout_ms > c.timeout_ms)
        r.fail(t, "connect_timeout_ms (" + std::to_string(c.connect_timeout_ms) +
                      ") exceeds timeout_ms (" + std::to_string(c.timeout_ms) + ")");
    if (c.type == CheckConfig::Type::kTcp && c.port == 0) r.fail(t, "a tcp check needs a port");
    return c;
}

void read_nodes(Reader& r, const toml::table& root, EdgeSet& e) {
    CheckConfig defaults;
    if (const toml::node* h = root.get("health")) {
        if (!h->as_table()) r.fail(*h, "[health] must be a table");
        const toml::table& t = *h->as_table();
        defaults = read_check(r, t, defaults, true);
        e.check_defaults = defaults;
        config::read_table<HealthSettings>(t, health_keys(), e.health, Source{r.file()}, "[health]",
                                           config::names<CheckConfig>(check_keys()));
    }
    const toml::node* n = root.get("nodes");
    if (!n) return;
    const auto* arr = n->as_array();
    if (!arr) r.fail(*n, "nodes: expected [[nodes]] tables");
    for (const auto& item : *arr) {
        const auto* t = item.as_table();
        if (!t) r.fail(item, "[[nodes]] entries must be tables");
        EdgeNode node;
        node.line = line_of(item);
        config::read_table<EdgeNode>(*t, node_keys(), node, Source{r.file()}, "[[nodes]]",
                                     kNodeKeysInCode);
        if (!t->get("name")) r.fail(item, "missing name");
        if (std::string why; !node.http_base.empty() && !valid_http_base(node.http_base, why))
            r.fail(*t->get("http_base"), "http_base = \"" + node.http_base + "\": " + why);
        node.name_hash = common::fnv1a(node.name);
        // (Names are words in the admin and external state files.)
        if (node.name.empty() || node.name.find_first_of(": \t\r\n#") != std::string::npos)
            r.fail(item, "node name \"" + node.name +
                             "\" must be non-empty, without ':', '#' or white space");
        node.check = defaults;
        if (const toml::node* c = t->get("check")) {
            if (!c->as_table())
                r.fail(*c, "check: expected a table like { type = \"http\", port = 8080 }");
            node.check = read_check(r, *c->as_table(), defaults);
            node.own_check = true;
        }
        // Where it is, for nearest tiers: both coordinates or neither.
        const toml::node* lat = t->get("latitude");
        const toml::node* lon = t->get("longitude");
        if (lat || lon) {
            if (!lat || !lon)
                r.fail(item, "node " + node.name + ": latitude and longitude go together");
            const auto la = lat->value<double>(), lo = lon->value<double>();
            if (!la || *la < -90 || *la > 90)
                r.fail(*lat, "latitude = " + describe(*lat) + ": expected degrees, -90..90");
            if (!lo || *lo < -180 || *lo > 180)
                r.fail(*lon, "longitude = " + describe(*lon) + ": expected degrees, -180..180");
            node.has_location = true;
            node.latitude = *la;
            node.longitude = *lo;
        }
        for (const char* fam : {"ipv4", "ipv6"}) {
            const toml::node* a = t->get(fam);
            if (!a) continue;
            const auto* list = a->as_array();
            if (!list) r.fail(*a, std::string(fam) + ": expected a list of addresses");
            for (const auto& x : *list) {
                auto ip =
                    x.as_string() ? common::IpAddress::parse(x.as_string()->get()) : std::nullopt;
                if (!ip || (ip->is_v4() != (std::string(fam) == "ipv4")))
                    r.fail(x, std::string(fam) + ": " + describe(x) + " is not an " +
                                  (std::string(fam) == "ipv4" ? "IPv4" : "IPv6") + " address");
                (ip->is_v4() ? node.v4 : node.v6).push_back(*ip);
            }
        }
        if (node.v4.empty() && node.v6.empty())
            r.fail(item, "node " + node.name + " has no ipv4 or ipv6 address");
        if (e.node_index.count(node.name)) r.fail(item, "node " + node.name + " defined twice");
        e.node_index[node.name] = static_cast<std::uint32_t>(e.nodes.size());
        e.nodes.push_back(std::move(node));
    }
}

}  // namespace

namespace {

// A map's `check = {...}`: over the [health] defaults.
void map_check(Reader& r, const toml::table& t, GeoMap& g, const CheckConfig& defaults) {
    const toml::node* c = t.get("check");
    if (!c) return;
    if (!c->as_table()) r.fail(*c, "check: expected a table like { type = \"http\", port = 8080 }");
    g.check = read_check(r, *c->as_table(), defaults);
    g.has_check = true;
    g.check_line = line_of(*c);
}

// Nodes without a check of their own take the check of the map(s) they are
// in; two maps that set different checks for one such node are an error.
void apply_map_checks(EdgeSet& e) {
    std::vector<const GeoMap*> from(e.nodes.size(), nullptr);
    for (const auto& [name, m] : e.maps) {
        if (!m.has_check) continue;
        for (const std::uint32_t node : m.node_indexes()) {
            EdgeNode& n = e.nodes[node];
            if (n.own_check) continue;
            const GeoMap* other = from[node];
            if (other && other != &m && !(other->check == m.check))
                throw Problem{m.file, m.check_line,
                              "node " + n.name + " has no check of its own and maps " +
                                  other->name + " (" + other->file + ":" +
                                  std::to_string(other->check_line) + ") and " + m.name +
                                  " set different checks for it: give the node its own "
                                  "check = {...}"};
            from[node] = &m;
            n.check = m.check;
        }
    }
}

}  // namespace

const char* warmup_name(HealthSettings::Warmup w) {
    switch (w) {
        case HealthSettings::Warmup::kWait:
            return "wait";
        case HealthSettings::Warmup::kUp:
            return "up";
        case HealthSettings::Warmup::kDown:
            return "down";
    }
    return "?";
}

bool valid_http_base(const std::string& base, std::string& why) {
    std::size_t at = 0;
    if (base.rfind("http://", 0) == 0) {
        at = 7;
    } else if (base.rfind("https://", 0) == 0) {
        at = 8;
    } else {
        why = "expected http:// or https:// and a host";
        return false;
    }
    const std::size_t slash = base.find('/', at);
    const std::string authority = base.substr(at, slash == std::string::npos ? slash : slash - at);
    if (authority.empty()) {
        why = "no host after the scheme";
        return false;
    }
    for (char c : base)
        if (static_cast<unsigned char>(c) <= ' ' || c == '?' || c == '#' || c == '"' || c == '<' ||
            c == '>' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) {
            why = "a space, control character, query or fragment is not allowed";
            return false;
        }
    if (authority.find('@') != std::string::npos) {
        why = "no user information (@) in a redirect target";
        return false;
    }
    if (slash != std::string::npos && base.back() == '/') {
        why = "no trailing '/': the request's path (which starts with one) is appended";
        return false;
    }
    return true;
}

std::optional<EdgeSet> load_edges(const toml::table& root, const std::string& path,
                                  std::string& error) {
    EdgeSet e;
    const auto base = std::filesystem::absolute(path).parent_path();
    try {
        Reader r(e, path);
        read_nodes(r, root, e);
        for (std::string* f : {&e.health.state_file, &e.health.external_file})
            if (!f->empty() && std::filesystem::path(*f).is_relative()) *f = (base / *f).string();
        if (const toml::node* m = root.get("maps")) {
            if (!m->as_table()) r.fail(*m, "maps: expected [maps.NAME] tables");
            for (const auto& [k, v] : *m->as_table()) {
                const auto* t = v.as_table();
                if (!t) r.fail(v, "maps." + std::string(k.str()) + ": expected a table");
                const std::string file = r.string(*t, "file", false);
                if (!file.empty()) {
                    // A map in its own file (regenerated by cron): the same keys, top level.
                    std::string full =
                        std::filesystem::path(file).is_relative() ? (base / file).string() : file;
                    const toml::table mt = config::parse_file(full);
                    Reader mr(e, full);
                    auto g = mr.map(std::string(k.str()), mt);
                    map_check(mr, mt, g, e.check_defaults);
                    e.maps.emplace(std::string(k.str()), std::move(g));
                } else {
                    auto g = r.map(std::string(k.str()), *t);
                    map_check(r, *t, g, e.check_defaults);
                    e.maps.emplace(std::string(k.str()), std::move(g));
                }
            }
        }
        apply_map_checks(e);
        if (const toml::node* g = root.get("geoip")) {
            const auto* t = g->as_table();
            if (!t) r.fail(*g, "[geoip] must be a table");
            // The keys of the per-worker geo cache and its circuit breaker,
            // which the shared geo table replaced: refused with what to do.
            for (const char* gone : {"timeout_ms", "cache_size", "cache_max_age_s",
                                     "breaker_failures", "breaker_open_ms"})
                if (const toml::node* v = t->get(gone))
                    r.fail(*v, std::string("[geoip] ") + gone +
                                   " is no longer used: dnsd maps geoipd's compiled geo table "
                                   "(one lookup per query, no cache, no per-query deadline); "
                                   "remove the key");
            config::read_table<GeoipConfig>(*t, geoip_keys(), e.geoip, Source{r.file()}, "[geoip]");
        }
        if (const toml::node* rd = root.get("redirects")) {
            const auto* arr = rd->as_array();
            if (!arr) r.fail(*rd, "redirects: expected [[redirects]] tables");
            std::set<std::string> names;
            for (const auto& item : *arr) {
                const auto* t = item.as_table();
                if (!t) r.fail(item, "[[redirects]] entries must be tables");
                RedirectConfig c;
                c.line = line_of(item);
                config::read_table<RedirectConfig>(*t, redirect_keys(), c, Source{r.file()},
                                                   "[[redirects]]", kRedirectKeysInCode);
                if (!t->get("name")) r.fail(item, "missing name");
                if (!t->get("map")) r.fail(item, "missing map");
                while (c.name.size() > 1 && c.name.back() == '.') c.name.pop_back();
                if (!e.maps.count(c.map)) r.fail(*t->get("map"), "unknown map \"" + c.map + "\"");
                if (const toml::node* f = t->get("fallback")) {
                    c.fallback = r.entry(*f);
                } else {
                    c.fallback =
                        e.maps.at(c.map).default_entry;  // default: the map's default entry
                }
                if (!names.insert(c.name).second)
                    r.fail(item, "redirect " + c.name + " listed twice");
                e.redirects.push_back(std::move(c));
            }
        }
    } catch (const Problem& p) {
        error = p.text();
        return std::nullopt;
    }
    return e;
}

std::string edges_reference(config::Format format) {
    std::string s;
    s += config::reference<GeoipConfig>("[geoip]", "Where the geo facts come from.", geoip_keys(),
                                        GeoipConfig{}, format);
    s += config::reference<CheckConfig>(
        "[health] (check defaults) and a node's or map's `check = { ... }`",
        "How nodes are checked. [health] sets the defaults; a map's `check` applies to its nodes "
        "without one of their own, a node's own `check` to the node, each field over the "
        "defaults. `connect_timeout_ms` may not exceed `timeout_ms`; a tcp check needs a port.",
        check_keys(), CheckConfig{}, format);
    s += config::reference<HealthSettings>("[health] (health checking as a whole)",
                                           "Warm-up, drains and admin and external state.",
                                           health_keys(), HealthSettings{}, format);
    s += config::reference<EdgeNode>(
        "[[nodes]]",
        "One table per edge node. Also `ipv4 = [...]` and `ipv6 = [...]` (at least one "
        "address in all), `check = { ... }`, and `latitude = 50.11` with `longitude = 8.68` "
        "(degrees) for a map's nearest tier.",
        node_keys(), EdgeNode{}, format);
    s += config::reference<RedirectConfig>(
        "[[redirects]]",
        "One table per redirect name. Also `fallback = [\"NODE\", \"NODE:WEIGHT\", ...]`: the "
        "pool answered by weighted round robin while no geo table has arrived (default: the "
        "map's default entry). Maps (`[maps.NAME]`, or a file of their own) are lists of nodes "
        "by `cidr`, `asn`, `country`, `continent` and `default`, and may order a pool by "
        "distance: `nearest = { nodes = [...], margin_km = 50, radius_km = 0, candidates = 3, "
        "max_accuracy_km = 500 }` "
        "(nodes with a location; clients whose geo facts have coordinates other than 0,0), "
        "placed among the tiers by `tiers = [\"asn\", \"nearest\", \"country\", "
        "\"continent\"]` (that order by default; CIDR overrides are always first, the default "
        "last): see the README.",
        redirect_keys(), RedirectConfig{}, format);
    return s;
}

}  // namespace redirect
}  // namespace signpost::dnsd
