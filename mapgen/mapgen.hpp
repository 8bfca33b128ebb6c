#pragma once
// signpost-mapgen: turns a node inventory and the geo data into a map file in
// dnsd's format, for cron. The policy, per country of the geo data: its
// nearest nodes by great-circle distance from the country's centre, as an
// ordered failover list (descending entry weights), nodes within a margin of
// each other tied so that they share by capacity; continents and the default
// by the same rule from their centres; ASN entries from the inventory.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/geo_table.hpp"
#include "dnsd/redirect/nodes.hpp"

namespace signpost::mapgen {

// What the generator adds to a node of dnsd's config.
struct NodeExtra {
    std::string name;
    std::string country;  // where it is when the config has no latitude/longitude
    std::vector<std::string> serve_countries, avoid_countries;
    std::vector<std::string> serve_continents, avoid_continents;
    std::vector<std::uint32_t> asns;  // clients of these ASNs go to this node
    bool asn_only = false;            // and nobody else does (a cache inside one ISP)
    int line = 0;
};

struct Policy {
    std::uint32_t candidates = 3;  // nodes per country entry
    double margin_km = 250;        // nodes this close to the nearer one share its rank
    std::uint32_t continent_candidates = 3;
    std::uint32_t default_candidates = 2;
    // Locations the database says are good to more than this (their accuracy
    // radius, km) do not count towards a country's centre; 0: no bound.
    double max_accuracy_km = 500;
};

struct Inventory {
    std::string path;
    std::string config;  // dnsd's config (absolute)
    std::string map;     // the [maps.NAME] whose file is written
    std::string output;  // that file (absolute), or --output
    Policy policy;
    std::vector<NodeExtra> nodes;
};

// Throws dnsd::config::Problem (file:line: what).
Inventory load_inventory(const std::string& path);

struct Place {
    double latitude = 0, longitude = 0;
    double addresses = 0;    // IPv4 addresses in the geo data
    bool from_data = false;  // centre from the data's coordinates (else the shipped table)
    std::string continent;
};

// Every country (and continent) of the geo data with its centre: the
// address-weighted mean of the data's coordinates (0,0 counts as unknown),
// else the shipped country table. Countries with neither are left out.
struct GeoSummary {
    std::map<std::string, Place> countries;
    std::map<std::string, Place> continents;
    Place world;
    std::vector<std::string> unplaced;  // countries with no centre at all
};
GeoSummary summarize(const common::GeoTable& table, double max_accuracy_km = 500);

// One generated entry: node names with entry weights, highest first.
struct Entry {
    std::vector<std::pair<std::string, std::uint32_t>> members;
    std::vector<double> distances_km;  // per member, from the entry's centre (0 for ASN)
    bool operator==(const Entry& o) const { return members == o.members; }
};

struct Plan {
    Entry default_entry;
    std::map<std::string, Entry> continent, country;
    std::map<std::uint32_t, Entry> asn;
    // Where each node was placed: its coordinates, or its country's centre.
    struct NodePlace {
        double latitude, longitude;
        bool from_country;
    };
    std::map<std::string, NodePlace> node_places;
};

// Throws Problem for an inventory that does not fit the config (an unknown
// node, a node nowhere).
Plan make_plan(const Inventory& inv, const dnsd::EdgeSet& edges, const GeoSummary& geo);

// The map file's text: `header` (comment lines, each starting "# ") then the body.
std::string render_body(const Plan& plan);

// The entries of an installed map (by node name), for --diff.
Plan plan_of(const dnsd::GeoMap& map, const dnsd::EdgeSet& edges);

// What moves from `before` to `after`: one line per changed entry, and the
// share of the data's IPv4 addresses whose first choice changes.
struct Diff {
    std::vector<std::string> lines;
    double moved_share = 0;
    std::vector<std::string> moved_countries;  // whose first choice changed
};
Diff diff_plans(const Plan& before, const Plan& after, const GeoSummary& geo);

// The first-choice nodes of an entry (those with its highest weight).
std::vector<std::string> first_choice(const Entry& e);

// The picture: nodes as points, countries (at their centres, sized by
// addresses) coloured by their first choice, failover order on hover.
std::string render_geojson(const Plan& plan, const dnsd::EdgeSet& edges, const GeoSummary& geo,
                           const std::vector<std::string>& moved);
std::string render_html(const Plan& plan, const dnsd::EdgeSet& edges, const GeoSummary& geo,
                        const std::vector<std::string>& moved, const std::string& title);

}  // namespace signpost::mapgen
