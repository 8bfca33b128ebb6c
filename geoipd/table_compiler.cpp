#include "geoipd/table_compiler.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <unordered_map>

#include "common/country_continent.hpp"
#include "common/geo_table.hpp"

namespace signpost::geoipd {

namespace {

using common::Family;
using common::Uint128;

// One range of one database: from `start` to the next leaf's start.
// `rec` 0 is "no data"; otherwise 1 + the index of the decoded record; or,
// with kIpv4Alias set, an alias of the database's IPv4 tree: exactly the
// prefix of length alias_offset(rec) at `start` (never merged with a
// neighbour).
using common::alias_offset;
using common::is_ipv4_alias;
using common::kIpv4Alias;

struct Leaf {
    Uint128 start;
    std::uint32_t rec;
};

struct DbWalk {
    const Database* db = nullptr;
    std::unordered_map<std::uint32_t, std::uint32_t> rec_of_offset;
    std::vector<DatabaseHit> recs{DatabaseHit{}};  // [0]: not found
    std::vector<Leaf> v4, v6;
    // The IPv4 root of an IPv6 tree (the node 96 left records down), when
    // that walk reached a node: a record pointing at it is an alias.
    bool has_v4_root = false;
    std::uint32_t v4_root = 0;
    // Nodes read, against a bound: a legitimate tree reads each node about
    // once per alias of the IPv4 subtree; a corrupt one whose records point
    // back up the tree would otherwise multiply its walk without end.
    std::uint64_t nodes_read = 0;
    std::uint64_t node_budget = 0;
    std::size_t leaves = 0;
};

std::uint32_t record_of(DbWalk& w, const MMDB_entry_s& entry) {
    const auto [it, added] = w.rec_of_offset.try_emplace(entry.offset, 0);
    if (added) {
        it->second = static_cast<std::uint32_t>(w.recs.size());
        w.recs.push_back(w.db->decode(entry));
    }
    return it->second;
}

void emit(DbWalk& w, std::vector<Leaf>& out, Uint128 start, std::uint32_t rec) {
    ++w.leaves;
    if (!out.empty() && out.back().rec == rec && !is_ipv4_alias(rec))
        return;  // same record: one range
    out.push_back({start, rec});
}

bool read_node(DbWalk& w, std::uint32_t node, MMDB_search_node_s& out, std::string& error) {
    if (++w.nodes_read > w.node_budget) {
        error = w.db->path() + ": search tree walk exceeded " + std::to_string(w.node_budget) +
                " node reads (records loop back into the tree)";
        return false;
    }
    const int s = MMDB_read_node(&w.db->mmdb(), node, &out);
    if (s != MMDB_SUCCESS) {
        error = w.db->path() + ": cannot read search node " + std::to_string(node) + ": " +
                MMDB_strerror(s);
        return false;
    }
    return true;
}

// Depth-first, left before right, so leaves come out in ascending order. The
// subtree at `root` covers `bits` bits of address (32 or 128) starting at 0.
// With `aliases`, a record pointing at the IPv4 root at depth <= 96 becomes
// an alias leaf for its prefix instead of another walk of the IPv4 tree.
bool walk(DbWalk& w, std::uint32_t root, unsigned bits, bool aliases, std::vector<Leaf>& out,
          std::string& error) {
    struct Item {
        Uint128 start;
        std::uint32_t value;  // a node number, or a leaf's rec
        std::uint8_t depth;
        bool leaf;
    };
    std::vector<Item> stack;
    stack.reserve(2 * bits + 2);
    stack.push_back({0, root, 0, false});
    while (!stack.empty()) {
        const Item it = stack.back();
        stack.pop_back();
        if (it.leaf) {
            emit(w, out, it.start, it.value);
            continue;
        }
        if (it.depth >= bits) {
            error = w.db->path() + ": search tree deeper than " + std::to_string(bits) +
                    " bits at node " + std::to_string(it.value);
            return false;
        }
        MMDB_search_node_s n;
        if (!read_node(w, it.value, n, error)) return false;
        const auto depth = static_cast<std::uint8_t>(it.depth + 1);
        const Uint128 right_start = it.start | (Uint128{1} << (bits - depth));
        // Pushed right first so that left is popped first.
        const std::pair<std::uint8_t, const MMDB_entry_s*> sides[2] = {
            {n.right_record_type, &n.right_record_entry},
            {n.left_record_type, &n.left_record_entry}};
        const std::uint64_t records[2] = {n.right_record, n.left_record};
        for (int side = 0; side < 2; ++side) {
            const Uint128 start = side == 0 ? right_start : it.start;
            switch (sides[side].first) {
                case MMDB_RECORD_TYPE_SEARCH_NODE:
                    if (aliases && w.has_v4_root && depth <= 96 && records[side] == w.v4_root)
                        stack.push_back({start, kIpv4Alias | depth, depth, true});
                    else
                        stack.push_back(
                            {start, static_cast<std::uint32_t>(records[side]), depth, false});
                    break;
                case MMDB_RECORD_TYPE_EMPTY:
                    stack.push_back({start, 0, depth, true});
                    break;
                case MMDB_RECORD_TYPE_DATA:
                    stack.push_back({start, record_of(w, *sides[side].second), depth, true});
                    break;
                default:
                    error = w.db->path() + ": invalid record in search node " +
                            std::to_string(it.value);
                    return false;
            }
        }
    }
    return true;
}

// IPv4 in an IPv6 tree lives at ::/96: follow 96 left records from the root,
// as libmaxminddb does; a leaf on the way covers all of IPv4.
bool walk_v4_of_v6(DbWalk& w, std::string& error) {
    std::uint32_t node = 0;
    for (int i = 0; i < 96; ++i) {
        MMDB_search_node_s n;
        if (!read_node(w, node, n, error)) return false;
        switch (n.left_record_type) {
            case MMDB_RECORD_TYPE_SEARCH_NODE:
                node = static_cast<std::uint32_t>(n.left_record);
                continue;
            case MMDB_RECORD_TYPE_EMPTY:
                emit(w, w.v4, 0, 0);
                return true;
            case MMDB_RECORD_TYPE_DATA:
                emit(w, w.v4, 0, record_of(w, n.left_record_entry));
                return true;
            default:
                error = w.db->path() + ": invalid record in search node " + std::to_string(node);
                return false;
        }
    }
    w.has_v4_root = true;
    w.v4_root = node;
    return walk(w, node, 32, false, w.v4, error);
}

// Whether `list` has a leaf starting at `start` with record `rec`.
bool has_leaf(const std::vector<Leaf>& list, Uint128 start, std::uint32_t rec) {
    const auto it = std::lower_bound(list.begin(), list.end(), start,
                                     [](const Leaf& l, Uint128 s) { return l.start < s; });
    return it != list.end() && it->start == start && it->rec == rec;
}

// An IPv4 alias stays one range only where every database has the same alias
// (same prefix). Elsewhere each database's alias leaf is replaced by its IPv4
// leaves shifted into the prefix, which is what its tree answers there, so
// the sweep can merge it with the other databases' different data.
void expand_unshared_aliases(std::vector<DbWalk>& walks) {
    for (std::size_t d = 0; d < walks.size(); ++d) {
        std::vector<Leaf>& v6 = walks[d].v6;
        bool any = false;
        std::vector<bool> expand(v6.size(), false);
        for (std::size_t i = 0; i < v6.size(); ++i) {
            if (!is_ipv4_alias(v6[i].rec)) continue;
            for (std::size_t o = 0; o < walks.size(); ++o) {
                if (o != d && !has_leaf(walks[o].v6, v6[i].start, v6[i].rec)) {
                    expand[i] = any = true;
                    break;
                }
            }
        }
        if (!any) continue;
        std::vector<Leaf> out;
        out.reserve(v6.size());
        for (std::size_t i = 0; i < v6.size(); ++i) {
            const Leaf& l = v6[i];
            if (!expand[i]) {
                if (is_ipv4_alias(l.rec) || out.empty() || out.back().rec != l.rec)
                    out.push_back(l);
                continue;
            }
            const unsigned shift = 96 - alias_offset(l.rec);
            for (const Leaf& v4 : walks[d].v4) {
                if (!out.empty() && out.back().rec == v4.rec) continue;
                out.push_back({l.start | (v4.start << shift), v4.rec});
            }
        }
        v6 = std::move(out);
    }
}

// Sweeps the databases' ranges of one family together: a new elementary range
// starts wherever any database's range does, and gets the merge of what each
// database has there. TableBuilder merges equal neighbours again.
void sweep(std::vector<DbWalk>& walks, Family family, common::TableBuilder& builder) {
    const std::size_t n = walks.size();
    std::vector<const std::vector<Leaf>*> lists(n);
    for (std::size_t d = 0; d < n; ++d)
        lists[d] = family == Family::kV4 ? &walks[d].v4 : &walks[d].v6;
    std::vector<std::size_t> idx(n, 0);
    std::vector<const DatabaseHit*> hits(n);
    // The same tuple of records recurs across the space (a country's ranges
    // under one ASN): merge and intern each tuple once. A tuple gets a dense id
    // one database at a time, (id so far, next record) -> id, so every key is
    // one integer whatever the number of databases.
    std::vector<std::unordered_map<std::uint64_t, std::uint32_t>> tuple_ids(n > 1 ? n - 1 : 0);
    std::vector<std::uint32_t> fact_of_tuple;  // dense tuple id -> fact; kNone until merged
    constexpr std::uint32_t kNone = ~std::uint32_t{0};
    std::uint32_t tuples = n == 1 ? static_cast<std::uint32_t>(walks[0].recs.size()) : 0;
    if (n == 1) fact_of_tuple.assign(tuples, kNone);
    for (std::size_t d = 1; d < n; ++d) tuple_ids[d - 1].reserve(lists[d]->size());
    Uint128 start = 0;
    for (;;) {
        // After expand_unshared_aliases, an alias left in one database is the
        // same leaf in all of them.
        const std::uint32_t r0 = (*lists[0])[idx[0]].rec;
        if (is_ipv4_alias(r0)) {
            builder.add_ipv4_alias(start, alias_offset(r0));
        } else {
            std::uint32_t id = r0;
            for (std::size_t d = 1; d < n; ++d) {
                const std::uint64_t key = (std::uint64_t{id} << 32) | (*lists[d])[idx[d]].rec;
                const auto [it, added] = tuple_ids[d - 1].try_emplace(key, 0);
                if (added) {
                    it->second = d + 1 == n
                                     ? tuples++
                                     : static_cast<std::uint32_t>(tuple_ids[d - 1].size() - 1);
                    if (d + 1 == n) fact_of_tuple.push_back(kNone);
                }
                id = it->second;
            }
            if (fact_of_tuple[id] == kNone) {
                for (std::size_t d = 0; d < n; ++d)
                    hits[d] = &walks[d].recs[(*lists[d])[idx[d]].rec];
                fact_of_tuple[id] = builder.intern(merge_hits(hits.data(), n));
            }
            builder.add(family, start, fact_of_tuple[id]);
        }
        bool more = false;
        Uint128 next = 0;
        for (std::size_t d = 0; d < n; ++d) {
            if (idx[d] + 1 >= lists[d]->size()) continue;
            const Uint128 s = (*lists[d])[idx[d] + 1].start;
            if (!more || s < next) next = s;
            more = true;
        }
        if (!more) return;
        for (std::size_t d = 0; d < n; ++d)
            if (idx[d] + 1 < lists[d]->size() && (*lists[d])[idx[d] + 1].start == next) ++idx[d];
        start = next;
    }
}

}  // namespace

common::GeoFactsView merge_hits(const DatabaseHit* const* hits, std::size_t n) {
    common::GeoFactsView f;
    for (std::size_t i = 0; i < n; ++i) {
        const DatabaseHit& h = *hits[i];
        if (!h.found) continue;
        f.found = true;
        if (f.country.empty()) f.country = h.country;
        if (f.continent.empty()) f.continent = h.continent;
        if (f.asn == 0) f.asn = h.asn;
        if (f.as_org.empty()) f.as_org = h.as_org;
        if (!f.has_location && h.has_location) {
            f.has_location = true;
            f.latitude = h.latitude;
            f.longitude = h.longitude;
            f.accuracy_radius = h.accuracy_radius;  // the radius of that same location
        }
    }
    if (f.continent.empty() && !f.country.empty())
        f.continent = common::continent_of_country(f.country);
    return f;
}

common::GeoFactsView merge_lookup(const std::vector<std::shared_ptr<const Database>>& dbs,
                                  const common::IpAddress& addr) {
    std::vector<DatabaseHit> hits;
    std::vector<const DatabaseHit*> ptrs;
    unsigned len = 0;
    for (const auto& db : dbs) hits.push_back(db->lookup(addr));
    for (const auto& h : hits) {
        ptrs.push_back(&h);
        if (h.prefix_len > len) len = h.prefix_len;
    }
    common::GeoFactsView f = merge_hits(ptrs.data(), ptrs.size());
    f.ip = addr;
    f.prefix = common::Prefix(addr, len);
    return f;
}

std::string compile_table(const std::vector<std::shared_ptr<const Database>>& dbs,
                          std::uint64_t generation, std::string& error, CompileStats* stats) {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<DbWalk> walks(dbs.size());
    for (std::size_t d = 0; d < dbs.size(); ++d) {
        DbWalk& w = walks[d];
        w.db = dbs[d].get();
        w.node_budget = 4 * std::uint64_t{w.db->node_count()} + 1024;
        w.rec_of_offset.reserve(w.db->data_records());
        if (w.db->ip_version() == 4) {
            if (!walk(w, 0, 32, false, w.v4, error)) return {};
            // An IPv4-only file knows nothing of IPv6 (libmaxminddb refuses
            // the lookup): all of it is one not-found range.
            emit(w, w.v6, 0, 0);
        } else {
            if (!walk_v4_of_v6(w, error) || !walk(w, 0, 128, true, w.v6, error)) return {};
        }
    }
    expand_unshared_aliases(walks);
    common::TableBuilder builder;
    if (!walks.empty()) {
        sweep(walks, Family::kV4, builder);
        sweep(walks, Family::kV6, builder);
    }
    std::string image = builder.finish(generation, static_cast<std::uint64_t>(std::time(nullptr)));
    if (stats) {
        const auto& h = *reinterpret_cast<const common::GeoTableHeader*>(image.data());
        stats->v4_ranges = h.v4_count;
        stats->v6_ranges = h.v6_count;
        stats->facts = h.fact_count;
        stats->bytes = image.size();
        stats->tree_leaves = 0;
        for (const auto& w : walks) stats->tree_leaves += w.leaves;
        stats->milliseconds =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
    }
    return image;
}

}  // namespace signpost::geoipd
