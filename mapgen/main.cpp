// signpost-mapgen: writes a dnsd map from a node inventory and the geo data,
// for cron. Cron-safe: the result is checked by dnsd's own map loader, written
// to a temporary file, fsynced and renamed into place; an unchanged map is not
// rewritten (dnsd does not reload for nothing); a broken inventory is refused
// with file:line and the installed map is left alone. One line on stdout, the
// exit status says what happened (0 written or unchanged, 1 refused, 2 usage).

#include <fcntl.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/atomic_file.hpp"
#include "common/cli.hpp"
#include "common/geo_table.hpp"
#include "dnsd/config/schema.hpp"
#include "dnsd/redirect/nodes_config.hpp"
#include "geoipd/reloader.hpp"
#include "mapgen/mapgen.hpp"

using namespace signpost;
using dnsd::config::Problem;

namespace {

struct Failure {
    std::string what;
};

std::string read_all(const std::string& path, bool& ok) {
    std::ifstream in(path, std::ios::binary);
    ok = static_cast<bool>(in);
    std::stringstream s;
    if (ok) s << in.rdbuf();
    return s.str();
}

// The map file without its header (the comment lines it starts with): what
// decides whether it changed.
std::string body_of(const std::string& text) {
    std::size_t pos = 0;
    while (pos < text.size() && text[pos] == '#') {
        const auto nl = text.find('\n', pos);
        if (nl == std::string::npos) return {};
        pos = nl + 1;
    }
    while (pos < text.size() && text[pos] == '\n') ++pos;
    return text.substr(pos);
}

// `text` to path.tmp.PID, synced; returns that name.
std::string write_temp(const std::string& path, const std::string& text) {
    const std::string tmp = common::temp_name(path);
    std::string error;
    if (!common::write_synced(tmp, text, error)) throw Failure{error};
    return tmp;
}

void install(const std::string& tmp, const std::string& path) {
    std::string error;
    if (!common::rename_synced(tmp, path, error)) throw Failure{error};
}

void write_file(const std::string& path, const std::string& text) {
    std::string error;
    if (!common::replace_file(path, text, error)) throw Failure{error};
}

std::string utc(std::time_t t) {
    char buf[32];
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// dnsd's config with [maps.NAME] taken from `map_file`, loaded by dnsd's own
// loader: the nodes, and the check that dnsd would take the map.
dnsd::EdgeSet load_with_map(toml::table root, const std::string& config, const std::string& map,
                            const std::string& map_file) {
    auto* maps = root["maps"].as_table();
    if (!maps || !(*maps)[map].as_table())
        throw Failure{config + ": has no [maps." + map + "] (the inventory's map)"};
    toml::table entry;
    entry.insert("file", map_file);
    if (const auto* old = (*maps)[map].as_table())
        for (const auto& [k, v] : *old)
            if (k.str() != "file") entry.insert(k, v);
    maps->insert_or_assign(map, std::move(entry));
    std::string error;
    auto edges = dnsd::load_edges(root, config, error);
    if (!edges) throw Failure{error};
    return std::move(*edges);
}

}  // namespace

int main(int argc, char** argv) {
    namespace po = boost::program_options;
    std::string inventory_path, output, table_path, html, geojson;
    std::vector<std::string> dbs;
    po::options_description desc(
        "signpost-mapgen: writes a dnsd map from a node inventory and the geo data (for cron).\n"
        "For every country of the geo data: its nearest nodes by great-circle distance from\n"
        "the country's centre (the address-weighted mean of the data's coordinates, or the\n"
        "table shipped with signpost), as a failover list; nodes within margin_km of each\n"
        "other share a rank by capacity. Continents and the default by the same rule; ASN\n"
        "entries from the inventory. The result is checked by dnsd's own loader, then\n"
        "written atomically; an unchanged map is left alone.\n\n"
        "Usage: signpost-mapgen --inventory FILE (--db SPEC ... | --table FILE) "
        "[--diff]\n\nOptions");
    desc.add_options()("help,h", "this help")("version", "print the version and exit")(
        "inventory,i", po::value(&inventory_path), "the inventory (see README: Maps from cron)")(
        "db", po::value(&dbs), "a geo database, as geoipd's --db (repeatable, first wins)")(
        "table", po::value(&table_path), "a table written by geoipd --export-table instead")(
        "output,o", po::value(&output), "write here instead of the map's file")(
        "diff",
        "print what would change (entries, countries that move, share of addresses); "
        "write nothing")("html", po::value(&html),
                         "also write the picture: a self-contained HTML page")(
        "geojson", po::value(&geojson), "also write the GeoJSON behind it");
    std::vector<std::string> extra;
    po::variables_map vm;
    if (int rc = common::parse_tool_args("signpost-mapgen", argc, argv, desc, extra, vm); rc >= 0)
        return rc;
    if (vm.count("help")) {
        std::cout << desc
                  << "\nExit status: 0 written or unchanged (or --diff), 1 refused (nothing "
                     "written), 2 usage.\n";
        return 0;
    }
    if (!extra.empty() || inventory_path.empty() || (dbs.empty() == table_path.empty())) {
        std::cerr << "signpost-mapgen: need --inventory FILE and either --db or --table (see "
                     "--help)\n";
        return 2;
    }
    try {
        const mapgen::Inventory inv = mapgen::load_inventory(inventory_path);
        const toml::table root = dnsd::config::parse_file(inv.config);
        // Where the map lives.
        const auto* mt = root["maps"][inv.map].as_table();
        if (!mt)
            throw Failure{inv.config + ": has no [maps." + inv.map + "] (" + inv.path + ": map)"};
        const auto* file = mt->get_as<std::string>("file");
        if (!file)
            throw Failure{inv.config + ": [maps." + inv.map +
                          "] is inline: give it file = \"...\" for signpost-mapgen to write"};
        std::filesystem::path target =
            output.empty() ? (inv.output.empty() ? file->get() : inv.output) : output;
        if (target.is_relative())
            target = (output.empty() && inv.output.empty()
                          ? std::filesystem::absolute(inv.config).parent_path() / target
                          : std::filesystem::absolute(target));
        const std::string out_path = target.lexically_normal().string();

        // The geo data.
        std::shared_ptr<const common::GeoTable> table;
        std::shared_ptr<const geoipd::DatabaseSet> set;
        std::string source, error;
        if (!table_path.empty()) {
            bool ok = false;
            const std::string bytes = read_all(table_path, ok);
            if (!ok) throw Failure{table_path + ": cannot read: " + std::strerror(errno)};
            table = common::GeoTable::from_bytes(bytes, error);
            if (!table) throw Failure{table_path + ": " + error};
            source = table_path + " (geo table generation " + std::to_string(table->generation()) +
                     ", built " + utc(static_cast<std::time_t>(table->header().built_unix)) + ")";
        } else {
            std::vector<geoipd::DatabaseSpec> specs;
            for (const auto& d : dbs) {
                auto s = geoipd::DatabaseSpec::parse(d, error);
                if (!s) throw Failure{"--db " + d + ": " + error};
                specs.push_back(std::move(*s));
            }
            set = geoipd::load_all(specs, 1, error);
            if (!set) throw Failure{error};
            table = set->table();
            for (const auto& db : set->databases())
                source += (source.empty() ? "" : "; ") + db->path() + " (" + db->database_type() +
                          ", built " + utc(static_cast<std::time_t>(db->build_epoch())) + ")";
        }
        const mapgen::GeoSummary geo = mapgen::summarize(*table, inv.policy.max_accuracy_km);
        if (geo.countries.empty()) throw Failure{"the geo data names no country: " + source};

        // The nodes (and the installed map, for --diff), by dnsd's loader.
        bool have_old = false;
        const std::string old_text = read_all(out_path, have_old);
        dnsd::EdgeSet edges;
        mapgen::Plan before;
        std::string old_error;
        if (have_old) {
            try {
                edges = load_with_map(root, inv.config, inv.map, out_path);
                before = mapgen::plan_of(edges.maps.at(inv.map), edges);
            } catch (const Failure& f) {
                have_old = false;  // a broken installed map is replaced, not diffed
                old_error = f.what;
            }
        }
        if (!have_old) {
            // No usable map yet: a one-line placeholder, only to read the nodes.
            const auto* nodes = root["nodes"].as_array();
            const auto* first = nodes && !nodes->empty() ? (*nodes)[0].as_table() : nullptr;
            const auto* name = first ? first->get_as<std::string>("name") : nullptr;
            if (!name) throw Failure{inv.config + ": lists no [[nodes]]"};
            const std::string tmp = write_temp(
                out_path, "default = [" + dnsd::config::toml_string(name->get()) + "]\n");
            try {
                edges = load_with_map(root, inv.config, inv.map, tmp);
            } catch (...) {
                ::unlink(tmp.c_str());
                throw;
            }
            ::unlink(tmp.c_str());
        }
        const mapgen::Plan plan = mapgen::make_plan(inv, edges, geo);
        const std::string body = mapgen::render_body(plan);
        const mapgen::Diff diff = mapgen::diff_plans(before, plan, geo);
        std::size_t from_data = 0;
        for (const auto& [c, p] : geo.countries) from_data += p.from_data;
        const auto& pol = inv.policy;
        char policy[200];
        std::snprintf(
            policy, sizeof policy,
            "candidates %u, margin_km %g, continent_candidates %u, default_candidates %u, "
            "max_accuracy_km %g",
            pol.candidates, pol.margin_km, pol.continent_candidates, pol.default_candidates,
            pol.max_accuracy_km);
        const std::string header =
            "# Generated by signpost-mapgen " + utc(std::time(nullptr)) +
            ": do not edit, regenerate.\n# inventory: " + inv.path + "\n# config: " + inv.config +
            " [maps." + inv.map + "]\n# geo data: " + source + "\n# policy: " + policy +
            "\n# countries: " + std::to_string(geo.countries.size()) + " (" +
            std::to_string(from_data) + " centred on the data's coordinates, " +
            std::to_string(geo.countries.size() - from_data) +
            " on signpost's country table)\n# entry weights rank a failover list (100, 90, ...); "
            "equal weights share by node capacity;\n# the comment after an entry: distances in "
            "km from the centre.\n\n";
        const std::string text = header + body;

        // Checked by dnsd's loader before anything is installed.
        const std::string tmp = write_temp(out_path, text);
        try {
            load_with_map(root, inv.config, inv.map, tmp);
        } catch (const Failure& f) {
            ::unlink(tmp.c_str());
            throw Failure{"the generated map would not load, nothing written: " + f.what};
        }
        const bool unchanged = have_old && body_of(old_text) == body;
        auto pictures = [&] {
            const std::string title =
                "signpost map " + inv.map + (vm.count("diff") ? " (diff)" : "");
            if (!html.empty())
                write_file(html,
                           mapgen::render_html(plan, edges, geo, diff.moved_countries, title));
            if (!geojson.empty())
                write_file(geojson, mapgen::render_geojson(plan, edges, geo, diff.moved_countries));
        };
        char share[32];
        std::snprintf(share, sizeof share, "%.2f%%", 100 * diff.moved_share);
        if (vm.count("diff")) {
            ::unlink(tmp.c_str());
            for (const auto& l : diff.lines) std::printf("%s\n", l.c_str());
            std::printf("%s: %zu change(s); %zu countr%s move, %s of IPv4 addresses%s\n",
                        out_path.c_str(), diff.lines.size() - diff.moved_countries.size(),
                        diff.moved_countries.size(),
                        diff.moved_countries.size() == 1 ? "y would" : "ies would", share,
                        have_old ? "" : " (no installed map to compare with)");
            pictures();
            return 0;
        }
        if (unchanged) {
            ::unlink(tmp.c_str());
            pictures();
            std::printf("signpost-mapgen: %s unchanged (%zu countries)\n", out_path.c_str(),
                        plan.country.size());
            return 0;
        }
        install(tmp, out_path);
        pictures();
        std::printf(
            "signpost-mapgen: %s written: %zu countries, %zu continents, %zu ASNs; %zu "
            "countr%s moved (%s of IPv4 addresses)%s\n",
            out_path.c_str(), plan.country.size(), plan.continent.size(), plan.asn.size(),
            diff.moved_countries.size(), diff.moved_countries.size() == 1 ? "y" : "ies", share,
            old_error.empty() ? ""
                              : (" (replaced a map that did not load: " + old_error + ")").c_str());
        return 0;
    } catch (const Problem& p) {
        std::fprintf(stderr, "signpost-mapgen: %s (the installed map is left alone)\n",
                     p.text().c_str());
    } catch (const Failure& f) {
        std::fprintf(stderr, "signpost-mapgen: %s (the installed map is left alone)\n",
                     f.what.c_str());
    }
    return 1;
}
