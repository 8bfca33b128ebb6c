#include "geoipd/table_compiler.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <random>

#include "common/geo_table.hpp"
#include "geoipd/database_set.hpp"

using namespace signpost::geoipd;
using namespace signpost::common;

namespace {
const std::string kData = SIGNPOST_TESTDATA;
// MaxMind's own test databases: they alias ::/96, ::ffff:0:0/96, 2001::/32 and
// 2002::/16 to the IPv4 tree (the project's own alias only ::/96).
using Dbs = std::vector<std::shared_ptr<const Database>>;

Dbs open_dbs(std::initializer_list<const char*> files) {
    Dbs dbs;
    for (const char* f : files) {
        std::string e;
        auto spec = DatabaseSpec::parse(f[0] == '/' ? std::string(f) : kData + "/" + f, e);
        auto db = Database::open(*spec, e);
        EXPECT_TRUE(db) << e;
        if (db) dbs.push_back(std::move(db));
    }
    return dbs;
}

std::shared_ptr<const GeoTable> compile(const Dbs& dbs, CompileStats* stats = nullptr) {
    std::string error;
    const std::string img = compile_table(dbs, 9, error, stats);
    EXPECT_FALSE(img.empty()) << error;
    auto t = GeoTable::from_bytes(img, error);
    EXPECT_TRUE(t) << error;
    return t;
}

// Every network in a database's tree, as [first, last] in its family,
// collected by a plain recursive walk (independent of the compiler's).
struct Net {
    Family family;
    Uint128 first, last;
};

void collect(const MMDB_s& mmdb, std::uint32_t node, unsigned depth, Uint128 path, unsigned bits,
             bool v6_db, std::vector<Net>& out) {
    MMDB_search_node_s n;
    ASSERT_EQ(MMDB_read_node(&mmdb, node, &n), MMDB_SUCCESS);
    for (int side = 0; side < 2; ++side) {
        const Uint128 p = (path << 1) | side;
        const auto type = side ? n.right_record_type : n.left_record_type;
        const auto rec = side ? n.right_record : n.left_record;
        if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
            collect(mmdb, static_cast<std::uint32_t>(rec), depth + 1, p, bits, v6_db, out);
            continue;
        }
        const unsigned host = bits - (depth + 1);
        const Uint128 first = host == 128 ? 0 : p << host;
        const Uint128 last = first | (host == 128 ? ~Uint128{0} : (Uint128{1} << host) - 1);
        out.push_back({Family::kV6, first, last});
        if (!v6_db) out.back().family = Family::kV4;
        // IPv4 in an IPv6 tree: ::/96.
        if (v6_db && (first >> 32) == 0 && (last >> 32) == 0)
            out.push_back({Family::kV4, first, last});
    }
}

std::vector<Net> networks(const Database& db) {
    std::vector<Net> out;
    collect(db.mmdb(), 0, 0, 0, db.ip_version() == 6 ? 128 : 32, db.ip_version() == 6, out);
    return out;
}

bool same_facts(const GeoFactsView& a, const GeoFactsView& b) {
    return a.found == b.found && a.country == b.country && a.continent == b.continent &&
           a.asn == b.asn && a.as_org == b.as_org && a.has_location == b.has_location &&
           a.latitude == b.latitude && a.longitude == b.longitude;
}

std::string show(const GeoFactsView& f) {
    std::string out;
    append_answer_json(out, f);
    return out;
}

Uint128 family_max(Family f) {
    return f == Family::kV4 ? Uint128{0xffffffffu} : ~Uint128{0};
}

// The addresses worth checking: every network boundary of every database
// +-1, and random ones (anywhere, and inside the test data's blocks).
std::vector<IpAddress> probe_addresses(const Dbs& dbs) {
    std::vector<IpAddress> out;
    for (const auto& db : dbs) {
        for (const Net& n : networks(*db)) {
            const Uint128 max = family_max(n.family);
            for (Uint128 v : {n.first, n.last}) {
                out.push_back(address_from_value(n.family, v));
                if (v > 0) out.push_back(address_from_value(n.family, v - 1));
                if (v < max) out.push_back(address_from_value(n.family, v + 1));
            }
        }
    }
    std::mt19937_64 rng(7);
    // 2001:db8::/32 (test data), 2002::/16 (6to4), ::/96, 2001::/32 (Teredo),
    // ::ffff:0:0/96 (IPv4-mapped): the last four are where writers alias IPv4.
    const Uint128 blocks[] = {address_value(*IpAddress::parse("2001:db8::")),
                              address_value(*IpAddress::parse("2002::")), 0,
                              address_value(*IpAddress::parse("2001::")),
                              address_value(*IpAddress::parse("::ffff:0:0"))};
    const unsigned block_len[] = {32, 16, 96, 32, 96};

    for (int i = 0; i < 3000; ++i) {
        out.push_back(IpAddress::v4(static_cast<std::uint32_t>(rng())));
        out.push_back(IpAddress::v4((10u << 24) | static_cast<std::uint32_t>(rng() & 0xffffff)));
        out.push_back(IpAddress::v4((172u << 24) | (16u << 16) |
                                    static_cast<std::uint32_t>(rng() & 0x7ffff)));
        const Uint128 r = (Uint128{rng()} << 64) | rng();
        out.push_back(address_from_value(Family::kV6, r));
        out.push_back(address_from_value(Family::kV6, blocks[i % 3] | (r >> 32)));
        const int b = i % 5;
        out.push_back(address_from_value(Family::kV6, blocks[b] | (r >> block_len[b])));
        out.push_back(address_from_value(Family::kV6, r >> 96));  // ::/96, IPv4-compatible
    }
    return out;
}

// The facts the IPv6 table itself holds for `v` (no unmapping of
// ::ffff:0:0/96, which GeoTable::lookup answers from the IPv4 table), an
// IPv4 alias resolved as docs/geo-table.md says.
GeoFactsView raw_v6_facts(const GeoTable& t, Uint128 v) {
    std::size_t lo = 0, hi = t.range_count(Family::kV6) - 1;
    while (lo < hi) {
        const std::size_t mid = lo + (hi - lo + 1) / 2;
        if (t.range_start(Family::kV6, mid) <= v)
            lo = mid;
        else
            hi = mid - 1;
    }
    const std::uint32_t f = t.range_fact(Family::kV6, lo);
    if (is_ipv4_alias(f)) return t.lookup(IpAddress::v4(aliased_ipv4(v, alias_offset(f))));
    GeoFactsView out;
    t.fill(t.fact(f), out);
    return out;
}

// The table must answer every address exactly as asking each database and
// merging does, with a prefix that contains it, is no narrower than the
// databases' own, and holds no address with other facts.
void check_against_reference(std::initializer_list<const char*> files) {
    SCOPED_TRACE(::testing::PrintToString(std::vector<std::string>(files.begin(), files.end())));
    const Dbs dbs = open_dbs(files);
    const auto table = compile(dbs);
    ASSERT_TRUE(table);
    std::mt19937_64 rng(3);
    std::size_t checked = 0, coarser = 0;
    for (const IpAddress& raw : probe_addresses(dbs)) {
        if (!raw.is_v4()) {
            // What the IPv6 ranges hold, IPv4-mapped block included, is what
            // each database's tree says for the IPv6 address.
            const GeoFactsView in_table = raw_v6_facts(*table, address_value(raw));
            const GeoFactsView tree = merge_lookup(dbs, raw);
            ASSERT_TRUE(same_facts(in_table, tree))
                << raw.to_string() << " (IPv6 ranges)\n table: " << show(in_table)
                << " reference: " << show(tree);
        }
        const IpAddress a = raw.unmapped();
        const GeoFactsView got = table->lookup(a);
        const GeoFactsView want = merge_lookup(dbs, a);
        ASSERT_TRUE(same_facts(got, want))
            << a.to_string() << "\n table: " << show(got) << " reference: " << show(want);
        ASSERT_TRUE(got.prefix.contains(a)) << a.to_string() << " " << got.prefix.to_string();
        ASSERT_LE(got.prefix.length(), want.prefix.length()) << a.to_string();
        if (got.prefix.length() < want.prefix.length()) ++coarser;
        // Sample the prefix: its first and last address and a few inside.
        const Family fam = a.family();
        const Uint128 first = address_value(got.prefix.address());
        const unsigned host = a.bits() - got.prefix.length();
        const Uint128 mask = host == 128 ? ~Uint128{0} : (Uint128{1} << host) - 1;
        for (int k = 0; k < 6; ++k) {
            const Uint128 r = (Uint128{rng()} << 64) | rng();
            const Uint128 v = k == 0 ? first : k == 1 ? first | mask : first | (r & mask);
            const IpAddress b = address_from_value(fam, v);
            if (fam == Family::kV6 && b.unmapped().is_v4()) continue;  // answered as IPv4
            ASSERT_TRUE(same_facts(merge_lookup(dbs, b), got))
                << a.to_string() << " answered for " << got.prefix.to_string() << " but "
                << b.to_string() << " differs";
        }
        ++checked;
    }
    EXPECT_GT(checked, 10000u);
    std::printf("    %zu addresses agree; %zu prefixes wider than every database's network\n",
                checked, coarser);
}

void check_partition(const GeoTable& t) {
    for (Family fam : {Family::kV4, Family::kV6}) {
        const std::size_t n = t.range_count(fam);
        ASSERT_GT(n, 0u);
        EXPECT_EQ(t.range_start(fam, 0), 0u);
        for (std::size_t i = 0; i + 1 < n; ++i) {
            ASSERT_LT(t.range_start(fam, i), t.range_start(fam, i + 1));
            ASSERT_EQ(t.range_end(fam, i) + 1, t.range_start(fam, i + 1));
            const std::uint32_t f = t.range_fact(fam, i);
            if (is_ipv4_alias(f)) {  // exactly one prefix, never merged
                ASSERT_EQ(fam, Family::kV6);
                const unsigned d = alias_offset(f);
                ASSERT_LE(d, 96u);
                ASSERT_EQ(t.range_end(fam, i) - t.range_start(fam, i),
                          (Uint128{1} << (128 - d)) - 1);
                continue;
            }
            ASSERT_NE(f, t.range_fact(fam, i + 1)) << "unmerged neighbours";
            ASSERT_LT(f, t.fact_count());
        }
        EXPECT_EQ(t.range_end(fam, n - 1), family_max(fam));
    }
    // Interned: no two fact records alike.
    for (std::uint32_t i = 0; i < t.fact_count(); ++i) {
        for (std::uint32_t j = i + 1; j < t.fact_count(); ++j) {
            GeoFactsView a, b;
            t.fill(t.fact(i), a);
            t.fill(t.fact(j), b);
            ASSERT_FALSE(same_facts(a, b)) << "facts " << i << " and " << j;
        }
    }
}

}  // namespace

TEST(TableCompiler, CityAndAsnAgreeWithPerDatabaseMerge) {
    check_against_reference({"city.mmdb", "asn.mmdb"});
}

TEST(TableCompiler, ManyDatabasesAgreeWithPerDatabaseMerge) {
    check_against_reference({"city.mmdb", "asn.mmdb", "v4only.mmdb"});
    check_against_reference({"flat.mmdb", "city-b.mmdb", "asn.mmdb"});
    check_against_reference({"v4only.mmdb", "flat.mmdb"});
}

TEST(TableCompiler, SingleDatabasesAgreeWithTheirLookups) {
    check_against_reference({"asn.mmdb"});
    check_against_reference({"v4only.mmdb"});
    check_against_reference({"city.mmdb"});
}

TEST(TableCompiler, RangesPartitionTheSpace) {
    for (auto files : {std::vector<const char*>{"city.mmdb", "asn.mmdb"},
                       std::vector<const char*>{"v4only.mmdb"},
                       std::vector<const char*>{"flat.mmdb", "city.mmdb", "asn.mmdb"}}) {
        Dbs dbs;
        for (const char* f : files) dbs.push_back(open_dbs({f})[0]);
        CompileStats st;
        const auto t = compile(dbs, &st);
        ASSERT_TRUE(t);
        check_partition(*t);
        EXPECT_EQ(st.v4_ranges, t->range_count(Family::kV4));
        EXPECT_EQ(st.v6_ranges, t->range_count(Family::kV6));
        EXPECT_EQ(st.facts, t->fact_count());
        EXPECT_EQ(t->generation(), 9u);
        EXPECT_LT(st.milliseconds, 2000);
    }
}

TEST(TableCompiler, PrefixesOfSeveralDatabasesMerge) {
    const Dbs dbs = open_dbs({"city.mmdb", "asn.mmdb"});
    const auto t = compile(dbs);
    ASSERT_TRUE(t);
    // city says 81.2.69.0/24 GB; asn splits it at /25 (AS20712, then none).
    auto f = t->lookup(*IpAddress::parse("81.2.69.1"));
    EXPECT_EQ(f.prefix.to_string(), "81.2.69.0/25");
    EXPECT_EQ(f.country, "GB");
    EXPECT_EQ(f.asn, 20712u);
    f = t->lookup(*IpAddress::parse("81.2.69.142"));
    EXPECT_EQ(f.prefix.to_string(), "81.2.69.128/25");
    EXPECT_EQ(f.asn, 0u);
    // Nested: 10/8 minus 10.1/16 is one merged range per side of it.
    f = t->lookup(*IpAddress::parse("10.200.1.1"));
    EXPECT_EQ(f.country, "US");
    EXPECT_EQ(f.asn, 64500u);
    EXPECT_EQ(f.prefix.to_string(), "10.128.0.0/9");
    // The IPv4-only database contributes nothing to IPv6, and IPv6 data
    // in the IPv6 databases still comes through.
    const auto t2 = compile(open_dbs({"v4only.mmdb", "city.mmdb"}));
    ASSERT_TRUE(t2);
    f = t2->lookup(*IpAddress::parse("2001:db8:1:2::9"));
    EXPECT_EQ(f.country, "FR");
    EXPECT_EQ(f.prefix.to_string(), "2001:db8:1:2::/64");
    f = t2->lookup(*IpAddress::parse("203.0.113.9"));
    EXPECT_EQ(f.country, "AU");
    EXPECT_EQ(f.continent, "OC");  // derived from the country
    // IPv4 through 6to4 (2002::/16 aliases the IPv4 tree in the writer).
    const auto t3 = compile(open_dbs({"city.mmdb"}));
    f = t3->lookup(*IpAddress::parse("2002:a01:203::1"));
    const auto via_6to4 = *IpAddress::parse("2002:a01:203::1");
    EXPECT_EQ(f.country, merge_lookup(open_dbs({"city.mmdb"}), via_6to4).country);
}

namespace {
// The IPv4 alias ranges of a table, as (start, length).
std::vector<std::pair<Uint128, unsigned>> aliases(const GeoTable& t) {
    std::vector<std::pair<Uint128, unsigned>> out;
    for (std::size_t i = 0; i < t.range_count(Family::kV6); ++i)
        if (const auto f = t.range_fact(Family::kV6, i); is_ipv4_alias(f))
            out.emplace_back(t.range_start(Family::kV6, i), alias_offset(f));
    return out;
}
}  // namespace

TEST(TableCompiler, SharedIpv4AliasIsOneRangeAndUnsharedIsExpanded) {
    // Every test database aliases ::/96 to its IPv4 tree.
    const std::vector<std::pair<Uint128, unsigned>> v4_compat{{0, 96}};
    const auto one = compile(open_dbs({"city.mmdb"}));
    ASSERT_TRUE(one);
    EXPECT_EQ(aliases(*one), v4_compat);
    const auto both = compile(open_dbs({"city.mmdb", "asn.mmdb"}));
    ASSERT_TRUE(both);
    EXPECT_EQ(aliases(*both), v4_compat);
    auto f = both->lookup(*IpAddress::parse("::10.1.2.3"));
    const auto v4 = both->lookup(*IpAddress::parse("10.1.2.3"));
    EXPECT_EQ(f.country, "FR");
    EXPECT_EQ(f.asn, v4.asn);
    EXPECT_EQ(f.prefix.length(), 96u + v4.prefix.length());
    EXPECT_EQ(address_value(f.prefix.address()), address_value(*IpAddress::parse("::10.1.2.0")));
    // An IPv4-only database has nothing at ::/96: the other's alias is
    // expanded into its IPv4 ranges there, and ::/96 no longer copies the
    // IPv4 table (which has the IPv4-only database's data).
    const auto mixed = compile(open_dbs({"v4only.mmdb", "city.mmdb"}));
    ASSERT_TRUE(mixed);
    EXPECT_TRUE(aliases(*mixed).empty());
    EXPECT_EQ(mixed->lookup(*IpAddress::parse("203.0.113.9")).country, "AU");
    f = mixed->lookup(*IpAddress::parse("::203.0.113.9"));
    EXPECT_EQ(f.country, merge_lookup(open_dbs({"v4only.mmdb", "city.mmdb"}),
                                      *IpAddress::parse("::203.0.113.9"))
                             .country);
    EXPECT_NE(f.country, "AU");
}

// Databases written with MaxMind's IPv6-to-IPv4 aliases (as MaxMind's own
// files are): ::ffff:0:0/96, 2001::/32 and 2002::/16 point at the IPv4 tree.
TEST(TableCompiler, MaxMindAliasesAgreeWithPerDatabaseMerge) {
    const char* country = "city-aliased.mmdb";
    const char* asn = "asn-aliased.mmdb";
    const std::vector<std::pair<Uint128, unsigned>> all{
        {0, 96},
        {address_value(*IpAddress::parse("::ffff:0:0")), 96},
        {address_value(*IpAddress::parse("2001::")), 32},
        {address_value(*IpAddress::parse("2002::")), 16}};
    // Both alias the same four prefixes: four alias ranges.
    check_against_reference({country});
    check_against_reference({country, asn});
    const auto shared = compile(open_dbs({country, asn}));
    ASSERT_TRUE(shared);
    EXPECT_EQ(aliases(*shared), all);
    auto f = shared->lookup(*IpAddress::parse("2002:5102:4501::1"));  // 6to4 of 81.2.69.1
    auto v4 = shared->lookup(*IpAddress::parse("81.2.69.1"));
    EXPECT_EQ(f.country, v4.country);
    EXPECT_EQ(f.asn, v4.asn);
    EXPECT_EQ(f.prefix.length(), 16 + v4.prefix.length());
    // One aliases four prefixes, the other only ::/96 (and has nothing at the
    // other three): those are expanded, ::/96 stays an alias.
    check_against_reference({country, "city.mmdb"});
    check_against_reference({"asn.mmdb", country});
    const auto mixed = compile(open_dbs({"asn.mmdb", country}));
    ASSERT_TRUE(mixed);
    EXPECT_EQ(aliases(*mixed), (std::vector<std::pair<Uint128, unsigned>>{{0, 96}}));
    // With an IPv4-only database nothing is shared.
    check_against_reference({country, "v4only.mmdb", asn});
    EXPECT_TRUE(aliases(*compile(open_dbs({country, "v4only.mmdb"}))).empty());
}

TEST(TableCompiler, NoDatabasesIsOneNotFoundRange) {
    std::string error;
    const std::string img = compile_table({}, 1, error);
    auto t = GeoTable::from_bytes(img, error);
    ASSERT_TRUE(t) << error;
    EXPECT_EQ(t->range_count(Family::kV4), 1u);
    EXPECT_EQ(t->range_count(Family::kV6), 1u);
    EXPECT_FALSE(t->lookup(*IpAddress::parse("1.2.3.4")).found);
    EXPECT_EQ(t->lookup(*IpAddress::parse("1.2.3.4")).prefix.to_string(), "0.0.0.0/0");
}

TEST(TableCompiler, DatabaseSetServesFromItsTable) {
    std::string error;
    CompileStats st;
    auto set = DatabaseSet::build(open_dbs({"city.mmdb", "asn.mmdb"}), 4, error, &st);
    ASSERT_TRUE(set) << error;
    ASSERT_TRUE(set->table());
    EXPECT_GE(set->table()->fd(), 0);  // a sealed memfd, to pass to clients
    EXPECT_EQ(set->table()->generation(), 4u);
    auto f = set->lookup(*IpAddress::parse("10.1.2.3"));
    EXPECT_EQ(f.country, "FR");
    EXPECT_EQ(f.generation, 4u);
    std::string info;
    set->append_info_json(info);
    EXPECT_NE(info.find(",\"table\":{\"generation\":4,"), std::string::npos) << info;
    EXPECT_EQ(info.back(), '\n');
}
