#include "common/geo_table.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <random>

using namespace signpost::common;

namespace {

GeoFactsView facts(const char* country, std::uint32_t asn, const char* org = "") {
    GeoFactsView f;
    f.found = true;
    f.country = country;
    f.continent = "EU";
    f.asn = asn;
    f.as_org = org;
    return f;
}

Uint128 v6(const char* text) {
    return address_value(*IpAddress::parse(text));
}

// A small table: IPv4 0/8 not found, 10/8 FR, 10.1/16 DE, 11/8.. not found;
// IPv6 ::/3 not found, 2001:db8::/32 FR (the same fact as IPv4 10/8).
std::string small_image(std::uint64_t generation = 5) {
    TableBuilder b;
    const auto none = b.intern(GeoFactsView{});
    const auto fr = b.intern(facts("FR", 64500, "Example A"));
    const auto de = b.intern(facts("DE", 64501, "Example \"B\""));
    b.add(Family::kV4, 0, none);
    b.add(Family::kV4, 10u << 24, fr);
    b.add(Family::kV4, (10u << 24) | (1u << 16), de);
    b.add(Family::kV4, (10u << 24) | (2u << 16), fr);
    b.add(Family::kV4, 11u << 24, none);
    b.add(Family::kV6, 0, none);
    b.add(Family::kV6, v6("2001:db8::"), fr);
    b.add(Family::kV6, v6("2001:db9::"), none);
    return b.finish(generation, 1700000000);
}

GeoTableHeader& hdr(std::string& img) {
    return *reinterpret_cast<GeoTableHeader*>(img.data());
}

void reseal(std::string& img) {
    hdr(img).checksum =
        table_checksum(reinterpret_cast<const std::uint8_t*>(img.data()), img.size());
}

std::string refused(const std::string& img) {
    std::string error;
    auto t = GeoTable::from_bytes(img, error);
    EXPECT_FALSE(t);
    EXPECT_FALSE(error.empty());
    return error;
}

}  // namespace

TEST(GeoTable, RoundTrip) {
    const std::string img = small_image();
    std::string error;
    auto t = GeoTable::from_bytes(img, error);
    ASSERT_TRUE(t) << error;
    EXPECT_EQ(t->generation(), 5u);
    EXPECT_EQ(t->header().built_unix, 1700000000u);
    EXPECT_EQ(t->range_count(Family::kV4), 5u);
    EXPECT_EQ(t->range_count(Family::kV6), 3u);
    EXPECT_EQ(t->fact_count(), 3u);

    auto f = t->lookup(*IpAddress::parse("10.1.2.3"));
    EXPECT_TRUE(f.found);
    EXPECT_EQ(f.country, "DE");
    EXPECT_EQ(f.continent, "EU");
    EXPECT_EQ(f.asn, 64501u);
    EXPECT_EQ(f.as_org, "Example \"B\"");
    EXPECT_EQ(f.prefix.to_string(), "10.1.0.0/16");
    EXPECT_EQ(f.generation, 5u);
    // 10.0/16 and 10.2/15..: FR, the range 10.2.0.0-10.255.255.255.
    f = t->lookup(*IpAddress::parse("10.200.0.1"));
    EXPECT_EQ(f.country, "FR");
    EXPECT_EQ(f.prefix.to_string(), "10.128.0.0/9");
    f = t->lookup(*IpAddress::parse("8.8.8.8"));
    EXPECT_FALSE(f.found);
    EXPECT_TRUE(f.country.empty());
    EXPECT_EQ(f.prefix.to_string(), "8.0.0.0/7");
    f = t->lookup(*IpAddress::parse("255.255.255.255"));
    EXPECT_FALSE(f.found);
    EXPECT_EQ(f.prefix.to_string(), "128.0.0.0/1");
    // IPv4-mapped IPv6 is answered from the IPv4 table, as IPv4.
    f = t->lookup(*IpAddress::parse("::ffff:10.1.2.3"));
    EXPECT_EQ(f.ip.to_string(), "10.1.2.3");
    EXPECT_EQ(f.country, "DE");
    f = t->lookup(*IpAddress::parse("2001:db8:1::1"));
    EXPECT_EQ(f.country, "FR");
    EXPECT_EQ(f.prefix.to_string(), "2001:db8::/32");
    f = t->lookup(*IpAddress::parse("ffff::1"));
    EXPECT_FALSE(f.found);
    EXPECT_EQ(f.prefix.to_string(), "8000::/1");
    // Identical inputs, identical bytes.
    EXPECT_EQ(img, small_image());
    EXPECT_NE(t->describe_json().find("\"v4_ranges\":5"), std::string::npos);
}

TEST(GeoTable, RangesPartitionTheSpace) {
    std::string error;
    auto t = GeoTable::from_bytes(small_image(), error);
    ASSERT_TRUE(t);
    for (Family fam : {Family::kV4, Family::kV6}) {
        const std::size_t n = t->range_count(fam);
        EXPECT_EQ(t->range_start(fam, 0), 0u);
        for (std::size_t i = 0; i + 1 < n; ++i) {
            EXPECT_EQ(t->range_end(fam, i) + 1, t->range_start(fam, i + 1));
            EXPECT_NE(t->range_fact(fam, i), t->range_fact(fam, i + 1));  // neighbours differ
        }
        EXPECT_EQ(t->range_end(fam, n - 1),
                  fam == Family::kV4 ? Uint128{0xffffffffu} : ~Uint128{0});
    }
}

TEST(GeoTable, FactsInternedAndEqualNeighboursMerge) {
    TableBuilder b;
    const auto a = b.intern(facts("FR", 1, "x"));
    EXPECT_EQ(b.intern(facts("FR", 1, "x")), a);
    EXPECT_NE(b.intern(facts("FR", 1, "y")), a);
    EXPECT_NE(b.intern(facts("FR", 2, "x")), a);
    GeoFactsView loc = facts("FR", 1, "x");
    loc.has_location = true;
    loc.latitude = 48.5;
    loc.longitude = 2.25;
    loc.accuracy_radius = 50;
    const auto l = b.intern(loc);
    EXPECT_NE(l, a);
    GeoFactsView vaguer = loc;  // the same place, less sure: another fact
    vaguer.accuracy_radius = 500;
    EXPECT_NE(b.intern(vaguer), l);
    b.add(Family::kV4, 0, a);
    b.add(Family::kV4, 100, a);  // same fact: merges into the range before
    b.add(Family::kV4, 200, l);
    EXPECT_EQ(b.ranges(Family::kV4), 2u);
    std::string error;
    auto t = GeoTable::from_bytes(b.finish(1, 0), error);
    ASSERT_TRUE(t) << error;
    EXPECT_EQ(t->fact_count(), 6u);  // 5 interned + the not-found fact for empty IPv6
    auto f = t->lookup(IpAddress::v4(300));
    EXPECT_TRUE(f.has_location);
    EXPECT_EQ(f.latitude, 48.5);
    EXPECT_EQ(f.longitude, 2.25);
    EXPECT_EQ(f.accuracy_radius, 50u);
    EXPECT_FALSE(t->lookup(*IpAddress::parse("::1")).found);
}

// prefix_len_within against the definition: the shortest L whose network
// around x lies inside [lo, hi].
TEST(GeoTable, PrefixLenWithinMatchesBruteForce) {
    std::mt19937_64 rng(11);
    auto brute = [](Uint128 x, Uint128 lo, Uint128 hi, unsigned bits) {
        for (unsigned len = 0; len <= bits; ++len) {
            const Uint128 size_mask =
                len == 0 ? (bits == 128 ? ~Uint128{0} : (Uint128{1} << bits) - 1)
                         : (bits - len == 128 ? ~Uint128{0} : (Uint128{1} << (bits - len)) - 1);
            const Uint128 first = x & ~size_mask, last = x | size_mask;
            if (first >= lo && last <= hi) return len;
        }
        return bits + 1;
    };
    auto rnd128 = [&] { return (Uint128{rng()} << 64) | rng(); };
    for (unsigned bits : {32u, 128u}) {
        const Uint128 max = bits == 32 ? Uint128{0xffffffffu} : ~Uint128{0};
        for (int i = 0; i < 20000; ++i) {
            Uint128 a = rnd128() & max, b = rnd128() & max;
            // Often short or aligned ranges, where the answer is interesting.
            if (i % 3 == 0) b = a + (rng() % 4096);
            if (i % 5 == 0) a &= max << (rng() % bits);
            if (b > max || b < a) b = max;
            if (a > b) std::swap(a, b);
            const Uint128 span = b - a;
            const Uint128 x = span == max ? (rnd128() & max) : a + (rnd128() % (span + 1));
            ASSERT_EQ(prefix_len_within(x, a, b, bits), brute(x, a, b, bits))
                << "bits " << bits << " case " << i;
        }
        EXPECT_EQ(prefix_len_within(5, 0, max, bits), 0u);
        EXPECT_EQ(prefix_len_within(5, 5, 5, bits), bits);
    }
}

TEST(GeoTable, RefusesBadMagicAndVersion) {
    std::string img = small_image();
    img[0] = 'X';
    EXPECT_NE(refused(img).find("bad magic"), std::string::npos);
    img = small_image();
    hdr(img).version = 3;
    reseal(img);
    EXPECT_NE(refused(img).find("version 3"), std::string::npos);
    img = small_image();
    hdr(img).version = 0;
    reseal(img);
    EXPECT_NE(refused(img).find("version 0"), std::string::npos);
    // Layout 1 (the fact's radius field reserved, 0) is still read.
    img = small_image();
    hdr(img).version = 1;
    reseal(img);
    std::string error;
    EXPECT_TRUE(GeoTable::from_bytes(img, error)) << error;
    // ... but not one whose reserved field says something.
    reinterpret_cast<GeoTableFact*>(img.data() + hdr(img).facts)->accuracy_radius = 7;
    reseal(img);
    EXPECT_NE(refused(img).find("layout 1 with its reserved field set"), std::string::npos);
    img = small_image();
    hdr(img).header_size = 64;
    reseal(img);
    EXPECT_NE(refused(img).find("header 64"), std::string::npos);
}

TEST(GeoTable, RefusesEveryFlippedByte) {
    const std::string good = small_image();
    for (std::size_t i = 0; i < good.size(); ++i) {
        std::string img = good;
        img[i] = static_cast<char>(img[i] ^ 0x20);
        std::string error;
        EXPECT_FALSE(GeoTable::from_bytes(img, error)) << "byte " << i;
        EXPECT_FALSE(error.empty());
        // Outside the magic, version and size fields, it is the checksum that notices.
        if (i >= 16 && (i < 32 || i >= 40)) {
            EXPECT_EQ(error, "checksum mismatch") << "byte " << i;
        }
    }
}

TEST(GeoTable, RefusesTruncatedAndPadded) {
    const std::string good = small_image();
    for (std::size_t len = 0; len < good.size(); len += (len < 256 ? 1 : 37)) {
        const std::string e = refused(good.substr(0, len));
        EXPECT_TRUE(e.find("truncated") != std::string::npos) << len << ": " << e;
    }
    EXPECT_NE(refused(good + std::string(8, '\0')).find("truncated or padded"), std::string::npos);
}

TEST(GeoTable, RefusesBadStructureEvenWithAGoodChecksum) {
    // Not ascending.
    std::string img = small_image();
    auto* starts = reinterpret_cast<std::uint32_t*>(img.data() + hdr(img).v4_starts);
    std::swap(starts[1], starts[2]);
    reseal(img);
    EXPECT_NE(refused(img).find("IPv4 range 2: not ascending"), std::string::npos);
    // Equal starts (an empty range).
    img = small_image();
    starts = reinterpret_cast<std::uint32_t*>(img.data() + hdr(img).v4_starts);
    starts[2] = starts[1];
    reseal(img);
    EXPECT_NE(refused(img).find("not ascending"), std::string::npos);
    // IPv6 not ascending.
    img = small_image();
    auto* s6 = reinterpret_cast<std::uint64_t*>(img.data() + hdr(img).v6_starts);
    s6[2] = ~std::uint64_t{0};  // range 1 starts after range 2
    reseal(img);
    EXPECT_NE(refused(img).find("IPv6 range 2"), std::string::npos);
    // Fact index out of range.
    img = small_image();
    auto* f4 = reinterpret_cast<std::uint32_t*>(img.data() + hdr(img).v4_facts);
    f4[3] = 3;
    reseal(img);
    EXPECT_NE(refused(img).find("bad fact index"), std::string::npos);
    img = small_image();
    auto* f6 = reinterpret_cast<std::uint32_t*>(img.data() + hdr(img).v6_facts);
    f6[0] = 1000;
    reseal(img);
    EXPECT_NE(refused(img).find("IPv6 range 0"), std::string::npos);
    // First range not at 0.
    img = small_image();
    starts = reinterpret_cast<std::uint32_t*>(img.data() + hdr(img).v4_starts);
    starts[0] = 1;
    reseal(img);
    EXPECT_NE(refused(img).find("start at address 0"), std::string::npos);
    // A section outside the image, a misaligned one, zero counts.
    img = small_image();
    hdr(img).facts = img.size();
    reseal(img);
    EXPECT_NE(refused(img).find("outside the image"), std::string::npos);
    img = small_image();
    hdr(img).v6_starts += 4;
    reseal(img);
    EXPECT_NE(refused(img).find("misaligned"), std::string::npos);
    img = small_image();
    hdr(img).v4_count = 0;
    reseal(img);
    EXPECT_NE(refused(img).find("outside the image"), std::string::npos);
    img = small_image();
    hdr(img).v4_count = 0x7fffffff;
    reseal(img);
    refused(img);
    // An AS organisation outside the strings.
    img = small_image();
    auto* facts = reinterpret_cast<GeoTableFact*>(img.data() + hdr(img).facts);
    facts[1].as_org_len = hdr(img).strings_size + 1;
    reseal(img);
    EXPECT_NE(refused(img).find("fact 1: AS organisation"), std::string::npos);
    img = small_image();
    facts = reinterpret_cast<GeoTableFact*>(img.data() + hdr(img).facts);
    facts[2].as_org_off = 0xffffffff;
    reseal(img);
    EXPECT_NE(refused(img).find("fact 2"), std::string::npos);
}

TEST(GeoTable, MapFdRequiresSeals) {
    const std::string img = small_image();
    std::string error;
    // Sealed memfd: accepted, and the fd is kept.
    const int sealed = write_sealed_memfd(img, error);
    ASSERT_GE(sealed, 0) << error;
    const int seals = ::fcntl(sealed, F_GET_SEALS);
    EXPECT_EQ(seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL),
              F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
    auto t = GeoTable::map_fd(sealed, true, error);
    ASSERT_TRUE(t) << error;
    EXPECT_EQ(t->fd(), sealed);
    EXPECT_EQ(t->size(), img.size());
    EXPECT_EQ(std::memcmp(t->data(), img.data(), img.size()), 0);
    EXPECT_EQ(t->lookup(*IpAddress::parse("10.1.0.1")).country, "DE");

    // The same bytes in an unsealed memfd: refused when seals are required.
    const int open_fd = ::memfd_create("geo-table-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ASSERT_GE(open_fd, 0);
    ASSERT_EQ(::write(open_fd, img.data(), img.size()), static_cast<ssize_t>(img.size()));
    const int dup = ::dup(open_fd);
    EXPECT_FALSE(GeoTable::map_fd(open_fd, true, error));
    EXPECT_NE(error.find("not sealed"), std::string::npos);
    // Without the requirement (a file exported to disk) it is read.
    auto u = GeoTable::map_fd(dup, false, error);
    EXPECT_TRUE(u) << error;

    // A sealed memfd holding a corrupt image: refused by validation.
    std::string bad = img;
    bad[200] ^= 1;
    const int bad_fd = write_sealed_memfd(bad, error);
    ASSERT_GE(bad_fd, 0);
    EXPECT_FALSE(GeoTable::map_fd(bad_fd, true, error));
    EXPECT_EQ(error, "checksum mismatch");
    // Too short to hold a header.
    const int tiny = write_sealed_memfd("SPGEOTBL", error);
    ASSERT_GE(tiny, 0);
    EXPECT_FALSE(GeoTable::map_fd(tiny, true, error));
    EXPECT_NE(error.find("truncated"), std::string::npos);
}

namespace {

// IPv4 as in small_image(); IPv6: ::/96 and 2002::/16 alias the IPv4 table,
// 2001:db8::/32 FR, the rest not found.
std::string alias_image() {
    TableBuilder b;
    const auto none = b.intern(GeoFactsView{});
    const auto fr = b.intern(facts("FR", 64500, "Example A"));
    const auto de = b.intern(facts("DE", 64501, "Example \"B\""));
    b.add(Family::kV4, 0, none);
    b.add(Family::kV4, 10u << 24, fr);
    b.add(Family::kV4, (10u << 24) | (1u << 16), de);
    b.add(Family::kV4, (10u << 24) | (2u << 16), fr);
    b.add(Family::kV4, 11u << 24, none);
    b.add_ipv4_alias(0, 96);
    b.add(Family::kV6, v6("::1:0:0"), none);
    b.add(Family::kV6, v6("2001:db8::"), fr);
    b.add(Family::kV6, v6("2001:db9::"), none);
    b.add_ipv4_alias(v6("2002::"), 16);
    b.add(Family::kV6, v6("2003::"), none);
    return b.finish(3, 1700000000);
}

std::uint32_t* v6_fact_words(std::string& img) {
    return reinterpret_cast<std::uint32_t*>(img.data() + hdr(img).v6_facts);
}

}  // namespace

TEST(GeoTable, Ipv4AliasRoundTripsAndResolvesThroughTheIpv4Table) {
    std::string error;
    const auto t = GeoTable::from_bytes(alias_image(), error);
    ASSERT_TRUE(t) << error;
    ASSERT_EQ(t->range_count(Family::kV6), 6u);
    EXPECT_EQ(t->range_fact(Family::kV6, 0), kIpv4Alias | 96u);
    EXPECT_TRUE(is_ipv4_alias(t->range_fact(Family::kV6, 4)));
    EXPECT_EQ(alias_offset(t->range_fact(Family::kV6, 4)), 16u);
    EXPECT_EQ(t->range_start(Family::kV6, 4), v6("2002::"));
    EXPECT_EQ(t->range_end(Family::kV6, 4), v6("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    EXPECT_FALSE(is_ipv4_alias(t->range_fact(Family::kV6, 2)));
    EXPECT_EQ(aliased_ipv4(v6("2002:a01:203::"), 16), (10u << 24) | (1u << 16) | (2u << 8) | 3u);
    EXPECT_EQ(aliased_ipv4(v6("::10.1.2.3"), 96), (10u << 24) | (1u << 16) | (2u << 8) | 3u);
    // Each lookup inside an alias is the IPv4 lookup of the embedded address,
    // with the prefix the alias's length plus the IPv4 prefix's.
    std::mt19937_64 rng(5);
    for (int i = 0; i < 2000; ++i) {
        const auto x = static_cast<std::uint32_t>(
            i % 2 ? rng() : ((10u << 24) | static_cast<std::uint32_t>(rng() & 0x3ffff)));
        const GeoFactsView four = t->lookup(IpAddress::v4(x));
        for (unsigned d : {96u, 16u}) {
            const Uint128 base = d == 96 ? 0 : v6("2002::");
            const Uint128 low = d == 96 ? 0 : (Uint128{rng()} & ((Uint128{1} << 80) - 1));
            const IpAddress a =
                address_from_value(Family::kV6, base | (Uint128{x} << (96 - d)) | low);
            const GeoFactsView six = t->lookup(a);
            EXPECT_EQ(six.found, four.found);
            EXPECT_EQ(six.country, four.country) << a.to_string();
            EXPECT_EQ(six.asn, four.asn);
            EXPECT_EQ(six.as_org, four.as_org);
            EXPECT_EQ(six.ip, a);
            EXPECT_EQ(six.prefix.length(), d + four.prefix.length()) << a.to_string();
            EXPECT_TRUE(six.prefix.contains(a));
        }
    }
    auto f = t->lookup(*IpAddress::parse("2002:a01:203::1"));
    EXPECT_EQ(f.country, "DE");
    EXPECT_EQ(f.prefix.to_string(), "2002:a01::/32");
    f = t->lookup(*IpAddress::parse("::10.2.0.1"));
    EXPECT_EQ(f.country, "FR");
    EXPECT_EQ(f.prefix.length(), 111u);  // 96 + 15 (10.2.0.0/15)
    EXPECT_EQ(address_value(f.prefix.address()), v6("::10.2.0.0"));
    f = t->lookup(*IpAddress::parse("::1:0:1"));  // just after the alias: a plain range
    EXPECT_FALSE(f.found);
    EXPECT_EQ(t->lookup(*IpAddress::parse("2001:db8::5")).country, "FR");
    // Two aliases side by side stay two ranges: each is one prefix.
    TableBuilder b;
    const auto none = b.intern(GeoFactsView{});
    b.add(Family::kV4, 0, none);
    b.add_ipv4_alias(0, 96);
    b.add_ipv4_alias(v6("::1:0:0"), 96);
    b.add(Family::kV6, v6("::2:0:0"), none);
    const auto t2 = GeoTable::from_bytes(b.finish(1, 1), error);
    ASSERT_TRUE(t2) << error;
    EXPECT_EQ(t2->range_count(Family::kV6), 3u);
}

TEST(GeoTable, RefusesAnAliasThatIsNotExactlyOnePrefix) {
    const std::string good = alias_image();
    std::string error;
    ASSERT_TRUE(GeoTable::from_bytes(good, error)) << error;
    auto expect_refused = [](std::string img) {
        reseal(img);  // so that it is the alias check that refuses
        EXPECT_NE(refused(img).find("an IPv4 alias that is not exactly one prefix"),
                  std::string::npos);
    };
    // d > 96.
    std::string img = good;
    v6_fact_words(img)[0] = kIpv4Alias | 97u;
    expect_refused(img);
    img = good;
    v6_fact_words(img)[4] = kIpv4Alias | 127u;
    expect_refused(img);
    // Other bits set beside the marker and the length.
    img = good;
    v6_fact_words(img)[4] = kIpv4Alias | 0x100u | 16u;
    expect_refused(img);
    img = good;
    v6_fact_words(img)[4] = kIpv4Alias | 0x40000000u | 16u;
    expect_refused(img);
    // Shorter than its range (2002::/15 is wider than the range to 2003::).
    img = good;
    v6_fact_words(img)[4] = kIpv4Alias | 15u;
    expect_refused(img);
    // Longer than its range (the range runs to 2003::, a /17 would end at 2002:8000::).
    img = good;
    v6_fact_words(img)[4] = kIpv4Alias | 17u;
    expect_refused(img);
    // A range that is not one prefix: ::1:0:0 up to 2001:db8:: marked as an alias.
    img = good;
    v6_fact_words(img)[1] = kIpv4Alias | 96u;
    expect_refused(img);
    // Not aligned: a start inside its prefix.
    img = good;
    v6_fact_words(img)[3] = kIpv4Alias | 32u;  // 2001:db9:: to 2002::
    expect_refused(img);
    // An alias as the last range, covering all of ::/0 minus nothing: only d = 0 at 0.
    img = good;
    v6_fact_words(img)[5] = kIpv4Alias | 1u;  // 2003:: to the end is no /1
    expect_refused(img);
}
