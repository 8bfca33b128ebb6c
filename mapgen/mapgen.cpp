#include "mapgen/mapgen.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "common/country_continent.hpp"
#include "common/json.hpp"
#include "dnsd/config/schema.hpp"
#include "dnsd/redirect/decisions.hpp"
#include "mapgen/country_centres.hpp"
#include "mapgen/country_outlines.hpp"

namespace signpost::mapgen {

using dnsd::config::describe;
using dnsd::config::line_of;
using dnsd::config::Problem;

namespace {

constexpr double kPi = 3.14159265358979323846;

// Unit vectors summed with weights: the mean direction on the sphere (a plain
// mean of longitudes would put Fiji's two halves in Africa).
struct Accumulator {
    double x = 0, y = 0, z = 0, w = 0;
    void add(double lat, double lon, double weight) {
        const double a = lat * kPi / 180, o = lon * kPi / 180;
        x += weight * std::cos(a) * std::cos(o);
        y += weight * std::cos(a) * std::sin(o);
        z += weight * std::sin(a);
        w += weight;
    }
    bool empty() const { return w <= 0 || (x == 0 && y == 0 && z == 0); }
    double latitude() const { return std::atan2(z, std::hypot(x, y)) * 180 / kPi; }
    double longitude() const { return std::atan2(y, x) * 180 / kPi; }
};

const CountryCentre* shipped_centre(const std::string& code) {
    const auto& t = country_centres();
    auto it = std::lower_bound(
        t.begin(), t.end(), code,
        [](const CountryCentre& c, const std::string& k) { return std::string_view(c.code) < k; });
    return it != t.end() && it->code == code ? &*it : nullptr;
}

std::vector<std::string> code_list(const toml::table& t, const char* key, const std::string& file,
                                   bool continents) {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const auto* a = n->as_array();
    if (!a) throw Problem{file, line_of(*n), std::string(key) + ": expected a list of codes"};
    for (const auto& v : *a) {
        const auto* s = v.as_string();
        const std::string code = s ? s->get() : std::string();
        const bool ok =
            continents ? common::is_continent(code) : !common::continent_of_country(code).empty();
        if (!ok)
            throw Problem{file, line_of(v),
                          std::string(key) + ": " + describe(v) + " is not " +
                              (continents ? "a continent code (AF AN AS EU NA OC SA)"
                                          : "an ISO 3166-1 country code")};
        out.push_back(code);
    }
    return out;
}

std::uint32_t positive(const toml::table& t, const char* key, std::uint32_t def,
                       const std::string& file, std::uint32_t max) {
    const toml::node* n = t.get(key);
    if (!n) return def;
    const auto* i = n->as_integer();
    if (!i || i->get() < 1 || i->get() > max)
        throw Problem{
            file, line_of(*n),
            std::string(key) + " = " + describe(*n) + ": expected 1.." + std::to_string(max)};
    return static_cast<std::uint32_t>(i->get());
}

double kilometres(const toml::table& t, const char* key, double def, const std::string& file) {
    const toml::node* n = t.get(key);
    if (!n) return def;
    const double v = n->is_integer()          ? static_cast<double>(n->as_integer()->get())
                     : n->is_floating_point() ? n->as_floating_point()->get()
                                              : -1;
    if (!(v >= 0 && v <= 20040))
        throw Problem{file, line_of(*n),
                      "policy." + std::string(key) + " = " + describe(*n) +
                          ": expected kilometres, 0..20040"};
    return v;
}

void only_keys(const toml::table& t, const std::set<std::string>& keys, const std::string& file,
               const std::string& where) {
    for (const auto& [k, v] : t)
        if (!keys.count(std::string(k.str()))) {
            std::string list;
            for (const auto& key : keys) list += (list.empty() ? "" : ", ") + key;
            throw Problem{file, line_of(v),
                          "unknown key " + where + std::string(k.str()) + " (known: " + list + ")"};
        }
}

}  // namespace

Inventory load_inventory(const std::string& path) {
    const toml::table root = dnsd::config::parse_file(path);
    Inventory inv;
    inv.path = std::filesystem::absolute(path).lexically_normal().string();
    only_keys(root, {"config", "map", "output", "policy", "nodes"}, path, "");
    const auto base = std::filesystem::absolute(path).parent_path();
    auto file_key = [&](const char* key, bool required) -> std::string {
        const toml::node* n = root.get(key);
        if (!n) {
            if (required) throw Problem{path, 0, std::string(key) + " is missing"};
            return {};
        }
        const auto* s = n->as_string();
        if (!s || s->get().empty())
            throw Problem{path, line_of(*n), std::string(key) + ": expected a file name"};
        const std::filesystem::path p(s->get());
        return p.is_relative() ? (base / p).lexically_normal().string() : p.string();
    };
    inv.config = file_key("config", true);
    inv.output = file_key("output", false);
    const toml::node* m = root.get("map");
    if (!m || !m->as_string() || m->as_string()->get().empty())
        throw Problem{path, m ? line_of(*m) : 0,
                      "map: expected the name of a [maps.NAME] in " + inv.config};
    inv.map = m->as_string()->get();
    if (const toml::node* p = root.get("policy")) {
        const auto* t = p->as_table();
        if (!t) throw Problem{path, line_of(*p), "policy: expected a table"};
        only_keys(*t,
                  {"candidates", "margin_km", "continent_candidates", "default_candidates",
                   "max_accuracy_km"},
                  path, "policy.");
        inv.policy.candidates = positive(*t, "candidates", 3, path, 16);
        inv.policy.continent_candidates = positive(*t, "continent_candidates", 3, path, 16);
        inv.policy.default_candidates = positive(*t, "default_candidates", 2, path, 16);
        inv.policy.margin_km = kilometres(*t, "margin_km", inv.policy.margin_km, path);
        inv.policy.max_accuracy_km =
            kilometres(*t, "max_accuracy_km", inv.policy.max_accuracy_km, path);
    }
    if (const toml::node* n = root.get("nodes")) {
        const auto* a = n->as_array();
        if (!a) throw Problem{path, line_of(*n), "nodes: expected [[nodes]] tables"};
        std::set<std::string> seen;
        for (const auto& v : *a) {
            const auto* t = v.as_table();
            if (!t) throw Problem{path, line_of(v), "nodes: expected [[nodes]] tables"};
            only_keys(*t,
                      {"name", "country", "serve_countries", "avoid_countries", "serve_continents",
                       "avoid_continents", "asns", "asn_only"},
                      path, "nodes.");
            NodeExtra x;
            x.line = line_of(v);
            const auto* name = t->get_as<std::string>("name");
            if (!name || name->get().empty()) throw Problem{path, x.line, "nodes: name is missing"};
            x.name = name->get();
            if (!seen.insert(x.name).second)
                throw Problem{path, x.line, "nodes: " + x.name + " is listed twice"};
            if (const toml::node* c = t->get("country")) {
                const auto* s = c->as_string();
                if (!s || common::continent_of_country(s->get()).empty())
                    throw Problem{path, line_of(*c),
                                  "country = " + describe(*c) + ": expected an ISO 3166-1 code"};
                x.country = s->get();
            }
            x.serve_countries = code_list(*t, "serve_countries", path, false);
            x.avoid_countries = code_list(*t, "avoid_countries", path, false);
            x.serve_continents = code_list(*t, "serve_continents", path, true);
            x.avoid_continents = code_list(*t, "avoid_continents", path, true);
            if (const toml::node* as = t->get("asns")) {
                const auto* list = as->as_array();
                if (!list) throw Problem{path, line_of(*as), "asns: expected a list of numbers"};
                for (const auto& e : *list) {
                    const auto* i = e.as_integer();
                    if (!i || i->get() < 1 || i->get() > 4294967295LL)
                        throw Problem{path, line_of(e),
                                      "asns: " + describe(e) + " is not an AS number"};
                    x.asns.push_back(static_cast<std::uint32_t>(i->get()));
                }
            }
            if (const toml::node* b = t->get("asn_only")) {
                if (!b->is_boolean())
                    throw Problem{path, line_of(*b),
                                  "asn_only = " + describe(*b) + ": expected true or false"};
                x.asn_only = b->as_boolean()->get();
                if (x.asn_only && x.asns.empty())
                    throw Problem{path, line_of(*b), "asn_only: " + x.name + " lists no asns"};
            }
            inv.nodes.push_back(std::move(x));
        }
    }
    return inv;
}

GeoSummary summarize(const common::GeoTable& table, double max_accuracy_km) {
    using common::Family;
    std::map<std::string, Accumulator> located;
    std::map<std::string, double> addresses;
    std::set<std::string> seen;
    auto country_of = [&](const common::GeoTableFact& f) {
        return f.country[0] ? std::string(f.country, 2) : std::string();
    };
    const std::size_t n4 = table.range_count(Family::kV4);
    for (std::size_t i = 0; i < n4; ++i) {
        const auto& f = table.fact(table.range_fact(Family::kV4, i));
        const std::string c = country_of(f);
        if (c.empty()) continue;
        const double size = static_cast<double>(table.range_end(Family::kV4, i) -
                                                table.range_start(Family::kV4, i) + 1);
        seen.insert(c);
        addresses[c] += size;
        if (dnsd::usable_location(f, max_accuracy_km))
            located[c].add(f.latitude, f.longitude, size);
    }
    const std::size_t n6 = table.range_count(Family::kV6);
    for (std::size_t i = 0; i < n6; ++i) {
        const std::uint32_t fi = table.range_fact(Family::kV6, i);
        if (common::is_ipv4_alias(fi)) continue;
        const std::string c = country_of(table.fact(fi));
        if (!c.empty()) seen.insert(c);
    }
    GeoSummary out;
    std::map<std::string, Accumulator> continents;
    Accumulator world;
    for (const auto& c : seen) {
        Place p;
        p.continent = std::string(common::continent_of_country(c));
        p.addresses = addresses[c];
        if (auto it = located.find(c); it != located.end() && !it->second.empty()) {
            p.latitude = it->second.latitude();
            p.longitude = it->second.longitude();
            p.from_data = true;
        } else if (const auto* s = shipped_centre(c)) {
            p.latitude = s->latitude;
            p.longitude = s->longitude;
        } else {
            out.unplaced.push_back(c);
            continue;
        }
        // A country with no IPv4 space still counts a little (IPv6-only data).
        const double w = std::max(p.addresses, 1.0);
        if (!p.continent.empty()) {
            continents[p.continent].add(p.latitude, p.longitude, w);
            out.continents[p.continent].addresses += p.addresses;
            out.continents[p.continent].continent = p.continent;
        }
        world.add(p.latitude, p.longitude, w);
        out.world.addresses += p.addresses;
        out.countries.emplace(c, std::move(p));
    }
    for (auto& [k, acc] : continents) {
        auto& p = out.continents[k];
        if (acc.empty()) continue;
        p.latitude = acc.latitude();
        p.longitude = acc.longitude();
    }
    if (!world.empty()) {
        out.world.latitude = world.latitude();
        out.world.longitude = world.longitude();
    }
    return out;
}

namespace {

struct Candidate {
    std::uint32_t node;
    double latitude, longitude;
    const NodeExtra* extra;  // may be null
};

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

// The nearest `n` of `pool` to (lat, lon), ranked: a node within margin of
// the first of its rank shares that rank. Weights 100, 90, ... (at least 1).
Entry nearest_entry(const std::vector<const Candidate*>& pool, const dnsd::EdgeSet& edges,
                    double lat, double lon, std::uint32_t n, double margin_km) {
    std::vector<std::pair<double, const Candidate*>> by;
    for (const auto* c : pool)
        by.emplace_back(dnsd::distance_km(lat, lon, c->latitude, c->longitude), c);
    std::sort(by.begin(), by.end(), [&](const auto& a, const auto& b) {
        if (a.first != b.first) return a.first < b.first;
        return edges.nodes[a.second->node].name < edges.nodes[b.second->node].name;
    });
    if (by.size() > n) by.resize(n);
    Entry e;
    std::uint32_t rank = 0;
    double rank_start = by.empty() ? 0 : by.front().first;
    for (const auto& [d, c] : by) {
        if (d - rank_start > margin_km) {
            ++rank;
            rank_start = d;
        }
        const std::uint32_t w = rank < 10 ? 100 - 10 * rank : 1;
        e.members.emplace_back(edges.nodes[c->node].name, w);
        e.distances_km.push_back(d);
    }
    return e;
}

}  // namespace

Plan make_plan(const Inventory& inv, const dnsd::EdgeSet& edges, const GeoSummary& geo) {
    std::map<std::string, const NodeExtra*> extras;
    for (const auto& x : inv.nodes) {
        bool known = false;
        for (const auto& n : edges.nodes) known = known || n.name == x.name;
        if (!known)
            throw Problem{inv.path, x.line, "nodes: " + x.name + " is not a node of " + inv.config};
        extras[x.name] = &x;
    }
    std::vector<Candidate> all;
    std::map<std::string, Plan::NodePlace> places;
    for (std::uint32_t i = 0; i < edges.nodes.size(); ++i) {
        const auto& node = edges.nodes[i];
        auto it = extras.find(node.name);
        const NodeExtra* x = it == extras.end() ? nullptr : it->second;
        Candidate c{i, node.latitude, node.longitude, x};
        bool placed = true;
        if (!node.has_location) {
            const std::string country = x ? x->country : std::string();
            const auto g = geo.countries.find(country);
            const CountryCentre* s = country.empty() ? nullptr : shipped_centre(country);
            if (g != geo.countries.end()) {
                c.latitude = g->second.latitude;
                c.longitude = g->second.longitude;
            } else if (s) {
                c.latitude = s->latitude;
                c.longitude = s->longitude;
            } else if (x && x->asn_only) {
                placed = false;
            } else {
                throw Problem{x ? inv.path : inv.config, x ? x->line : node.line,
                              "node " + node.name +
                                  " is nowhere: give it latitude and longitude in " + inv.config +
                                  ", or country in " + inv.path};
            }
        }
        if (placed) places[node.name] = {c.latitude, c.longitude, !node.has_location};
        all.push_back(c);
    }
    auto pool = [&](auto eligible) {
        std::vector<const Candidate*> out;
        for (const auto& c : all)
            if (!(c.extra && c.extra->asn_only) && eligible(c.extra)) out.push_back(&c);
        return out;
    };
    Plan plan;
    plan.node_places = std::move(places);
    const Policy& p = inv.policy;
    for (const auto& kv : geo.countries) {
        const std::string& code = kv.first;  // (named: lambdas cannot capture bindings in C++20)
        const Place& place = kv.second;
        auto cands = pool([&](const NodeExtra* x) {
            if (!x) return true;
            if (contains(x->avoid_countries, code) ||
                contains(x->avoid_continents, place.continent))
                return false;
            if (x->serve_countries.empty() && x->serve_continents.empty()) return true;
            return contains(x->serve_countries, code) ||
                   contains(x->serve_continents, place.continent);
        });
        if (cands.empty()) continue;  // nobody may serve it: the continent or default decides
        plan.country[code] =
            nearest_entry(cands, edges, place.latitude, place.longitude, p.candidates, p.margin_km);
    }
    for (const auto& kv : geo.continents) {
        const std::string& code = kv.first;
        const Place& place = kv.second;
        auto cands = pool([&](const NodeExtra* x) {
            if (!x) return true;
            if (!x->serve_countries.empty() || contains(x->avoid_continents, code)) return false;
            return x->serve_continents.empty() || contains(x->serve_continents, code);
        });
        if (cands.empty()) continue;
        plan.continent[code] = nearest_entry(cands, edges, place.latitude, place.longitude,
                                             p.continent_candidates, p.margin_km);
    }
    auto world = pool([](const NodeExtra* x) {
        return !x || (x->serve_countries.empty() && x->serve_continents.empty());
    });
    if (world.empty()) world = pool([](const NodeExtra*) { return true; });
    if (world.empty())
        throw Problem{inv.path, 0, "no node may serve the default entry (every node is asn_only)"};
    plan.default_entry = nearest_entry(world, edges, geo.world.latitude, geo.world.longitude,
                                       p.default_candidates, p.margin_km);
    for (const auto& x : inv.nodes)
        for (std::uint32_t a : x.asns) {
            auto& e = plan.asn[a];
            e.members.emplace_back(x.name, 100);
            e.distances_km.push_back(0);
        }
    return plan;
}

namespace {

void append_entry(std::string& out, const std::string& key, const Entry& e) {
    out += key + " = [";
    for (std::size_t i = 0; i < e.members.size(); ++i) {
        if (i) out += ", ";
        out += dnsd::config::toml_string(e.members[i].first + ":" +
                                         std::to_string(e.members[i].second));
    }
    out += "]";
    if (!e.distances_km.empty() && e.distances_km.back() > 0) {
        out += "  #";
        for (double d : e.distances_km) out += " " + std::to_string(std::lround(d));
        out += " km";
    }
    out += "\n";
}

}  // namespace

std::string render_body(const Plan& plan) {
    std::string out;
    append_entry(out, "default", plan.default_entry);
    if (!plan.continent.empty()) {
        out += "\n[continent]\n";
        for (const auto& [k, e] : plan.continent) append_entry(out, k, e);
    }
    if (!plan.country.empty()) {
        out += "\n[country]\n";
        for (const auto& [k, e] : plan.country) append_entry(out, k, e);
    }
    if (!plan.asn.empty()) {
        out += "\n[asn]\n";
        for (const auto& [k, e] : plan.asn) append_entry(out, "AS" + std::to_string(k), e);
    }
    return out;
}

Plan plan_of(const dnsd::GeoMap& map, const dnsd::EdgeSet& edges) {
    auto entry = [&](const dnsd::MapEntry& m) {
        Entry e;
        for (const auto& mem : m.members)
            e.members.emplace_back(edges.nodes[mem.node].name, mem.weight);
        std::stable_sort(e.members.begin(), e.members.end(),
                         [](const auto& a, const auto& b) { return a.second > b.second; });
        return e;
    };
    Plan p;
    p.default_entry = entry(map.default_entry);
    for (const auto& [k, m] : map.country) p.country[k] = entry(m);
    for (const auto& [k, m] : map.continent) p.continent[k] = entry(m);
    for (const auto& [k, m] : map.asn) p.asn[k] = entry(m);
    return p;
}

std::vector<std::string> first_choice(const Entry& e) {
    std::vector<std::string> out;
    std::uint32_t top = 0;
    for (const auto& [n, w] : e.members) top = std::max(top, w);
    for (const auto& [n, w] : e.members)
        if (w == top) out.push_back(n);
    std::sort(out.begin(), out.end());
    return out;
}

namespace {

std::string names(const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : "+") + s;
    return out.empty() ? "(none)" : out;
}

std::string order(const Entry& e) {
    std::string out;
    for (const auto& [n, w] : e.members)
        out += (out.empty() ? "" : " ") + n + ":" + std::to_string(w);
    return out.empty() ? "(none)" : out;
}

template <class K, class Fmt>
void diff_section(const char* what, const std::map<K, Entry>& a, const std::map<K, Entry>& b,
                  Fmt fmt, std::vector<std::string>& lines) {
    std::set<K> keys;
    for (const auto& [k, e] : a) keys.insert(k);
    for (const auto& [k, e] : b) keys.insert(k);
    static const Entry none;
    for (const auto& k : keys) {
        const auto ia = a.find(k), ib = b.find(k);
        const Entry& ea = ia == a.end() ? none : ia->second;
        const Entry& eb = ib == b.end() ? none : ib->second;
        if (ea == eb) continue;
        lines.push_back(std::string(what) + " " + fmt(k) + ": " + order(ea) + " -> " + order(eb));
    }
}

}  // namespace

Diff diff_plans(const Plan& before, const Plan& after, const GeoSummary& geo) {
    Diff d;
    if (!(before.default_entry == after.default_entry))
        d.lines.push_back("default: " + order(before.default_entry) + " -> " +
                          order(after.default_entry));
    auto same = [](const auto& k) {
        if constexpr (std::is_same_v<std::decay_t<decltype(k)>, std::uint32_t>)
            return "AS" + std::to_string(k);
        else
            return std::string(k);
    };
    diff_section("continent", before.continent, after.continent, same, d.lines);
    diff_section("country", before.country, after.country, same, d.lines);
    diff_section("asn", before.asn, after.asn, same, d.lines);
    // Where the clients of each country go first: the entry, else its
    // continent's, else the default (ASN and CIDR entries are not counted).
    auto first = [](const Plan& p, const std::string& c, const Place& place) {
        if (auto it = p.country.find(c); it != p.country.end()) return first_choice(it->second);
        if (auto it = p.continent.find(place.continent); it != p.continent.end())
            return first_choice(it->second);
        return first_choice(p.default_entry);
    };
    double moved = 0;
    for (const auto& [c, place] : geo.countries) {
        const auto a = first(before, c, place), b = first(after, c, place);
        if (a == b) continue;
        moved += place.addresses;
        d.moved_countries.push_back(c);
        char share[32];
        std::snprintf(share, sizeof share, "%.2f%%",
                      geo.world.addresses > 0 ? 100 * place.addresses / geo.world.addresses : 0.0);
        d.lines.push_back("moves " + c + ": " + names(a) + " -> " + names(b) + " (" + share +
                          " of IPv4 addresses)");
    }
    d.moved_share = geo.world.addresses > 0 ? moved / geo.world.addresses : 0;
    return d;
}

namespace {

// Distinct, readable colours, one per node in name order.
std::string colour(std::size_t i) {
    static const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
    if (i < std::size(palette)) return palette[i];
    char buf[16];  // beyond ten: hues around the wheel
    const double h = std::fmod(static_cast<double>(i) * 137.508, 360.0);
    std::snprintf(buf, sizeof buf, "hsl(%.0f,65%%,45%%)", h);
    return buf;
}

std::map<std::string, std::size_t> node_order(const dnsd::EdgeSet& edges) {
    std::vector<std::string> n;
    for (const auto& e : edges.nodes) n.push_back(e.name);
    std::sort(n.begin(), n.end());
    std::map<std::string, std::size_t> out;
    for (std::size_t i = 0; i < n.size(); ++i) out[n[i]] = i;
    return out;
}

std::string country_colour(const Entry& e, const std::map<std::string, std::size_t>& idx) {
    const auto f = first_choice(e);
    if (f.empty()) return "#cccccc";
    return colour(idx.at(f.front()));
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4f", v);
    return buf;
}

}  // namespace

std::string render_geojson(const Plan& plan, const dnsd::EdgeSet& edges, const GeoSummary& geo,
                           const std::vector<std::string>& moved) {
    const auto idx = node_order(edges);
    std::string out = "{\"type\":\"FeatureCollection\",\"features\":[";
    bool first = true;
    auto feature = [&](double lat, double lon, const std::string& props) {
        out += first ? "\n" : ",\n";
        first = false;
        out += "{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[" +
               num(lon) + "," + num(lat) + "]},\"properties\":{" + props + "}}";
    };
    for (const auto& n : edges.nodes) {
        const auto at = plan.node_places.find(n.name);
        if (at == plan.node_places.end()) continue;  // an ASN-only node with no place
        std::string p = "\"kind\":\"node\",\"name\":";
        common::json::append_string(p, n.name);
        p += ",\"weight\":" + std::to_string(n.weight) + ",\"placed_by\":\"" +
             (at->second.from_country ? "country" : "coordinates") + "\",\"colour\":";
        common::json::append_string(p, colour(idx.at(n.name)));
        feature(at->second.latitude, at->second.longitude, p);
    }
    for (const auto& [c, place] : geo.countries) {
        auto it = plan.country.find(c);
        const Entry* e = it != plan.country.end() ? &it->second : nullptr;
        if (!e) {
            auto ct = plan.continent.find(place.continent);
            e = ct != plan.continent.end() ? &ct->second : &plan.default_entry;
        }
        std::string p =
            "\"kind\":\"country\",\"country\":\"" + c +
            "\",\"addresses\":" + std::to_string(static_cast<unsigned long long>(place.addresses)) +
            ",\"centre_from\":\"" + (place.from_data ? "data" : "table") + "\",\"entry\":\"" +
            (it != plan.country.end() ? "country" : "fallthrough") + "\",\"failover\":[";
        for (std::size_t i = 0; i < e->members.size(); ++i) {
            if (i) p += ",";
            p += "{\"node\":";
            common::json::append_string(p, e->members[i].first);
            p += ",\"weight\":" + std::to_string(e->members[i].second);
            if (i < e->distances_km.size())
                p += ",\"km\":" + std::to_string(std::lround(e->distances_km[i]));
            p += "}";
        }
        p += "],\"colour\":";
        common::json::append_string(p, country_colour(*e, idx));
        p += std::string(",\"moved\":") +
             (std::find(moved.begin(), moved.end(), c) != moved.end() ? "true" : "false");
        feature(place.latitude, place.longitude, p);
    }
    return out + "\n]}\n";
}

std::string render_html(const Plan& plan, const dnsd::EdgeSet& edges, const GeoSummary& geo,
                        const std::vector<std::string>& moved, const std::string& title) {
    // Equirectangular, 2 px per degree: no tiles, no script, opens offline.
    constexpr double kScale = 2;
    auto x = [&](double lon) { return num((lon + 180) * kScale); };
    auto y = [&](double lat) { return num((90 - lat) * kScale); };
    const auto idx = node_order(edges);
    auto esc = [](const std::string& s) {
        std::string o;
        for (char c : s) {
            if (c == '<')
                o += "&lt;";
            else if (c == '>')
                o += "&gt;";
            else if (c == '&')
                o += "&amp;";
            else if (c == '"')
                o += "&quot;";
            else
                o += c;
        }
        return o;
    };
    std::string svg;
    svg += "<rect width=\"720\" height=\"360\" fill=\"#eef3f7\"/>\n";
    for (int lon = -180; lon <= 180; lon += 30)
        svg += "<line x1=\"" + x(lon) + "\" y1=\"0\" x2=\"" + x(lon) +
               "\" y2=\"360\" stroke=\"#d5dde5\" stroke-width=\"0.5\"/>\n";
    for (int lat = -90; lat <= 90; lat += 30)
        svg += "<line x1=\"0\" y1=\"" + y(lat) + "\" x2=\"720\" y2=\"" + y(lat) +
               "\" stroke=\"#d5dde5\" stroke-width=\"0.5\"/>\n";
    double most = 1;
    for (const auto& [c, p] : geo.countries) most = std::max(most, p.addresses);
    // Per country: its colour and what hovering says (the same for its
    // outline and its circle).
    struct Shown {
        std::string colour, tip;
        bool moved = false;
    };
    auto shown = [&](const std::string& c, const Place& place) {
        auto it = plan.country.find(c);
        const Entry* e = it != plan.country.end() ? &it->second : nullptr;
        std::string via = "country";
        if (!e) {
            auto ct = plan.continent.find(place.continent);
            via = ct != plan.continent.end() ? "continent " + place.continent : "default";
            e = ct != plan.continent.end() ? &ct->second : &plan.default_entry;
        }
        Shown out;
        out.moved = std::find(moved.begin(), moved.end(), c) != moved.end();
        out.colour = country_colour(*e, idx);
        out.tip = c + " (" + via + "): ";
        for (std::size_t i = 0; i < e->members.size(); ++i) {
            out.tip +=
                (i ? " > " : "") + e->members[i].first + ":" + std::to_string(e->members[i].second);
            if (i < e->distances_km.size() && e->distances_km[i] > 0)
                out.tip += " " + std::to_string(std::lround(e->distances_km[i])) + " km";
        }
        if (out.moved) out.tip += " (moves)";
        return out;
    };
    // Outlines: each country of the data filled with its first choice's
    // colour; countries the data does not name, plain land.
    for (const auto& o : country_outlines()) {
        const auto at = geo.countries.find(o.code);
        std::string d;
        char buf[48];
        bool start = true;
        for (const char* p = o.rings; *p;) {
            if (*p == '|') {
                d += "Z";
                start = true;
                ++p;
                continue;
            }
            char* end = nullptr;
            const long lon = std::strtol(p, &end, 10);
            const long lat = std::strtol(end, &end, 10);
            if (end == p) break;  // not a number: the generated table is broken
            while (*end == ' ') ++end;
            p = end;
            std::snprintf(buf, sizeof buf, "%s%.1f %.1f", start ? "M" : "L",
                          (static_cast<double>(lon) / 10 + 180) * kScale,
                          (90 - static_cast<double>(lat) / 10) * kScale);
            d += buf;
            start = false;
        }
        d += "Z";
        if (at == geo.countries.end()) {
            svg += "<path class=\"land\" d=\"" + d +
                   "\" fill=\"#dcdcdc\" stroke=\"#ffffff\" stroke-width=\"0.3\"/>\n";
            continue;
        }
        const Shown sh = shown(at->first, at->second);
        svg += "<path class=\"country\" data-country=\"" + at->first + "\" d=\"" + d +
               "\" fill=\"" + sh.colour + "\" stroke=\"" +
               (sh.moved ? "#000000\" stroke-width=\"1" : "#ffffff\" stroke-width=\"0.3") +
               "\"><title>" + esc(sh.tip) + "</title></path>\n";
    }
    std::vector<std::pair<double, std::string>>
        circles;  // biggest first, so small ones stay on top
    for (const auto& [c, place] : geo.countries) {
        const Shown sh = shown(c, place);
        const double r = 2 + 10 * std::sqrt(place.addresses / most);
        circles.emplace_back(
            r, "<circle class=\"centre\" data-country=\"" + c + "\" cx=\"" + x(place.longitude) +
                   "\" cy=\"" + y(place.latitude) + "\" r=\"" + num(r) + "\" fill=\"" + sh.colour +
                   "\" stroke=\"" +
                   (sh.moved ? "#000000\" stroke-width=\"1.5" : "#ffffff\" stroke-width=\"0.6") +
                   "\"><title>" + esc(sh.tip) + "</title></circle>\n");
    }
    std::sort(circles.begin(), circles.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [r, s] : circles) svg += s;
    std::string legend;
    for (const auto& n : edges.nodes) {
        const std::string col = colour(idx.at(n.name));
        legend += "<li><span style=\"background:" + col + "\"></span>" + esc(n.name) + "</li>";
        const auto at = plan.node_places.find(n.name);
        if (at == plan.node_places.end()) continue;
        const double lat = at->second.latitude, lon = at->second.longitude;
        svg += "<g class=\"node\" data-node=\"" + esc(n.name) + "\"><rect x=\"" +
               num((lon + 180) * kScale - 4) + "\" y=\"" + num((90 - lat) * kScale - 4) +
               "\" width=\"8\" height=\"8\" fill=\"" + col +
               "\" stroke=\"#000000\" stroke-width=\"1\"/><text x=\"" +
               num((lon + 180) * kScale + 6) + "\" y=\"" + num((90 - lat) * kScale + 3) +
               "\" font-size=\"8\">" + esc(n.name) + "</text><title>" + esc(n.name) + " (weight " +
               std::to_string(n.weight) + ")</title></g>\n";
    }
    // The picture first, at the page's origin, 4 px per degree: a pixel of a
    // screenshot is a place (the system test reads them back).
    return "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + esc(title) +
           "</title>\n<style>body{font:14px sans-serif;margin:0}svg{display:block;width:1440px;"
           "height:720px}div{margin:8px 16px}ul{list-style:none;padding:0}li{display:inline-"
           "block;margin-right:12px}li span{display:inline-block;width:12px;height:12px;"
           "margin-right:4px;vertical-align:middle}</style></head>\n<body>\n<svg viewBox=\"0 0 "
           "720 360\" xmlns=\"http://www.w3.org/2000/svg\">\n" +
           svg + "</svg>\n<div><h1>" + esc(title) +
           "</h1>\n<p>Each country is coloured by the node its clients go to first (hover "
           "for the failover order), and circled at its centre, the circle sized by its IPv4 "
           "addresses (small countries have the circle only); grey land is not in the geo "
           "data. Squares are nodes. Outlined in black: the country moves. Borders: Natural "
           "Earth 1:110m.</p>\n<ul>" +
           legend + "</ul></div>\n</body></html>\n";
}

}  // namespace signpost::mapgen
