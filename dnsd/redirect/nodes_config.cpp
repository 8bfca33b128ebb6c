#include "dnsd/redirect/nodes_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <set>
#include "common/hash.hpp"
#include "dnsd/redirect/toml_util.hpp"

namespace signpost::dnsd {

namespace {

struct Problem {
    std::string file;
    int line;
    std::string what;
};

class Reader {
  public:
    Reader(EdgeSet& e, std::string file) : e_(e), file_(std::move(file)) {}
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
        known(t, {"file", "default", "cidr", "asn", "country", "continent", "check"},
              ("map " + name).c_str());
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
                (std::string(tier) == "country" ? g.country : g.continent).emplace(code, entry(v));
            }
        }
        return g;
    }

  private:
    EdgeSet& e_;
    std::string file_;
};

// Reads check fields from `t` over `base` (the [health] defaults).
// [health] also holds the settings of health checking as a whole.
CheckConfig read_check(Reader& r, const toml::table& t, CheckConfig c, bool global = false) {
    r.known(t,
            {"type", "port", "path", "host", "expect", "body", "tls_verify", "interval_ms",
             "connect_timeout_ms", "timeout_ms", "rise", "fall"},
            global ? "[health]" : "a health check",
            global ? std::initializer_list<const char*>{"warmup", "drain_seconds", "state_file",
                                                        "external_file", "external_max_age_s"}
                   : std::initializer_list<const char*>{});
    if (const toml::node* n = t.get("type")) {
        const auto* s = n->as_string();
        const std::string v = s ? s->get() : "";
        if (v == "none")
            c.type = CheckConfig::Type::kNone;
        else if (v == "tcp")
            c.type = CheckConfig::Type::kTcp;
        else if (v == "http")
            c.type = CheckConfig::Type::kHttp;
        else if (v == "https")
            c.type = CheckConfig::Type::kHttps;
        else
            r.fail(*n, "type = " + describe(*n) +
                           ": expected \"none\", \"tcp\", \"http\" or \"https\"");
    }
    c.port = static_cast<std::uint16_t>(r.integer(t, "port", c.port, 0, 65535));
    if (t.get("path")) c.path = r.string(t, "path", false);
    if (c.path.empty() || c.path[0] != '/') r.fail(*t.get("path"), "path must start with '/'");
    if (t.get("host")) c.host = r.string(t, "host", false);
    if (t.get("body")) c.body = r.string(t, "body", false);
    if (const toml::node* n = t.get("expect")) {
        const auto* arr = n->as_array();
        if (!arr || arr->empty())
            r.fail(*n, "expect: a list of HTTP status codes, like [200, 204]");
        c.expect.clear();
        for (const auto& x : *arr) {
            const auto* i = x.as_integer();
            if (!i || i->get() < 100 || i->get() > 599)
                r.fail(x, "expect: " + describe(x) + " is not an HTTP status");
            c.expect.push_back(static_cast<long>(i->get()));
        }
    }
    if (const toml::node* n = t.get("tls_verify")) {
        if (!n->as_boolean()) r.fail(*n, "tls_verify: expected true or false");
        c.tls_verify = n->as_boolean()->get();
    }
    c.interval_ms = r.integer(t, "interval_ms", c.interval_ms, 100, 3600000);
    c.connect_timeout_ms = r.integer(t, "connect_timeout_ms", c.connect_timeout_ms, 10, 600000);
    c.timeout_ms = r.integer(t, "timeout_ms", c.timeout_ms, 10, 600000);
    c.rise = r.integer(t, "rise", c.rise, 1, 1000);
    c.fall = r.integer(t, "fall", c.fall, 1, 1000);
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
        auto& hs = e.health;
        if (const toml::node* w = t.get("warmup")) {
            const std::string v = w->as_string() ? w->as_string()->get() : "";
            if (v == "wait")
                hs.warmup = HealthSettings::Warmup::kWait;
            else if (v == "up")
                hs.warmup = HealthSettings::Warmup::kUp;
            else if (v == "down")
                hs.warmup = HealthSettings::Warmup::kDown;
            else
                r.fail(*w, "warmup = " + describe(*w) + ": expected \"wait\", \"up\" or \"down\"");
        }
        hs.drain_s = r.integer(t, "drain_seconds", hs.drain_s, 0, 86400 * 7);
        hs.state_file = r.string(t, "state_file", false);
        hs.external_file = r.string(t, "external_file", false);
        hs.external_max_age_s =
            r.integer(t, "external_max_age_s", hs.external_max_age_s, 0, 86400 * 365);
    }
    const toml::node* n = root.get("nodes");
    if (!n) return;
    const auto* arr = n->as_array();
    if (!arr) r.fail(*n, "nodes: expected [[nodes]] tables");
    for (const auto& item : *arr) {
        const auto* t = item.as_table();
        if (!t) r.fail(item, "[[nodes]] entries must be tables");
        r.known(*t, {"name", "ipv4", "ipv6", "weight", "admin", "check"}, "[[nodes]]");
        EdgeNode node;
        node.line = line_of(item);
        node.name = r.string(*t, "name", true);
        node.name_hash = common::fnv1a(node.name);
        // (Names are words in the admin and external state files.)
        if (node.name.empty() || node.name.find_first_of(": \t\r\n#") != std::string::npos)
            r.fail(item, "node name \"" + node.name +
                             "\" must be non-empty, without ':', '#' or white space");
        node.weight = r.integer(*t, "weight", 100, 1, 1000000);
        const std::string admin = r.string(*t, "admin", false);
        if (!admin.empty() && admin != "up" && admin != "down")
            r.fail(*t->get("admin"), "admin = \"" + admin + "\": expected \"up\" or \"down\"");
        node.admin_up = admin != "down";
        node.check = defaults;
        if (const toml::node* c = t->get("check")) {
            if (!c->as_table())
                r.fail(*c, "check: expected a table like { type = \"http\", port = 8080 }");
            node.check = read_check(r, *c->as_table(), defaults);
            node.own_check = true;
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
        std::vector<const MapEntry*> entries{&m.default_entry};
        for (const auto& [p, x] : m.cidr) entries.push_back(&x);
        for (const auto& [k, x] : m.asn) entries.push_back(&x);
        for (const auto& [k, x] : m.country) entries.push_back(&x);
        for (const auto& [k, x] : m.continent) entries.push_back(&x);
        for (const MapEntry* x : entries)
            for (const auto& mem : x->members) {
                EdgeNode& n = e.nodes[mem.node];
                if (n.own_check) continue;
                const GeoMap* other = from[mem.node];
                if (other && other != &m && !(other->check == m.check))
                    throw Problem{m.file, m.check_line,
                                  "node " + n.name + " has no check of its own and maps " +
                                      other->name + " (" + other->file + ":" +
                                      std::to_string(other->check_line) + ") and " + m.name +
                                      " set different checks for it: give the node its own "
                                      "check = {...}"};
                from[mem.node] = &m;
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
                    toml::table mt;
                    try {
                        mt = toml::parse_file(full);
                    } catch (const toml::parse_error& pe) {
                        throw Problem{full, static_cast<int>(pe.source().begin.line),
                                      std::string(pe.description())};
                    }
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
            r.known(*t, {"socket"}, "[geoip]");
            e.geoip.socket = r.string(*t, "socket", false);
        }
        if (const toml::node* rd = root.get("redirects")) {
            const auto* arr = rd->as_array();
            if (!arr) r.fail(*rd, "redirects: expected [[redirects]] tables");
            std::set<std::string> names;
            for (const auto& item : *arr) {
                const auto* t = item.as_table();
                if (!t) r.fail(item, "[[redirects]] entries must be tables");
                r.known(*t,
                        {"name", "map", "ttl", "answers", "fallback", "fallback_ttl",
                         "stickiness_v4", "stickiness_v6"},
                        "[[redirects]]");
                RedirectConfig c;
                c.line = line_of(item);
                c.name = r.string(*t, "name", true);
                while (c.name.size() > 1 && c.name.back() == '.') c.name.pop_back();
                c.map = r.string(*t, "map", true);
                if (!e.maps.count(c.map)) r.fail(*t->get("map"), "unknown map \"" + c.map + "\"");
                c.ttl = r.integer(*t, "ttl", 30, 0, 86400);
                c.answers = r.integer(*t, "answers", 1, 1, 16);
                c.fallback_ttl = r.integer(*t, "fallback_ttl", 10, 0, 86400);
                c.stick_v4 = static_cast<std::uint8_t>(r.integer(*t, "stickiness_v4", 24, 0, 32));
                c.stick_v6 = static_cast<std::uint8_t>(r.integer(*t, "stickiness_v6", 48, 0, 128));
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
        error =
            p.file + (p.line > 0 ? ":" + std::to_string(p.line) : std::string()) + ": " + p.what;
        return std::nullopt;
    }
    return e;
}

}  // namespace signpost::dnsd
