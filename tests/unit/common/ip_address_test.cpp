#include "common/ip_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>

using signpost::common::Family;
using signpost::common::IpAddress;
using signpost::common::Prefix;

TEST(IpAddress, ParsesAndFormatsBothFamilies) {
    auto a = IpAddress::parse("81.2.69.142");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->family(), Family::kV4);
    EXPECT_EQ(a->to_string(), "81.2.69.142");
    auto b = IpAddress::parse("2001:DB8:0:0:0:0:0:1");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->family(), Family::kV6);
    EXPECT_EQ(b->to_string(), "2001:db8::1");  // RFC 5952 canonical form
}

TEST(IpAddress, RejectsMalformedText) {
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ",
                            " 1.2.3.4", "::g", "1:2:3:4:5:6:7:8:9", "abc", "1.2.3.4/24",
                            "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255:1"}) {
        EXPECT_FALSE(IpAddress::parse(bad)) << bad;
    }
    std::string longtext(200, '1');
    EXPECT_FALSE(IpAddress::parse(longtext));
}

TEST(IpAddress, UnmapsV4MappedOnly) {
    EXPECT_EQ(IpAddress::parse("::ffff:1.2.3.4")->unmapped(), *IpAddress::parse("1.2.3.4"));
    EXPECT_EQ(IpAddress::parse("::1.2.3.4")->unmapped().family(), Family::kV6);
    EXPECT_EQ(IpAddress::parse("1.2.3.4")->unmapped(), *IpAddress::parse("1.2.3.4"));
}

TEST(IpAddress, MasksAtEveryLength) {
    auto a = *IpAddress::parse("255.255.255.255");
    EXPECT_EQ(a.masked(0).to_string(), "0.0.0.0");
    EXPECT_EQ(a.masked(1).to_string(), "128.0.0.0");
    EXPECT_EQ(a.masked(23).to_string(), "255.255.254.0");
    EXPECT_EQ(a.masked(32), a);
    auto b = *IpAddress::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    EXPECT_EQ(b.masked(48).to_string(), "ffff:ffff:ffff::");
    EXPECT_EQ(b.masked(127).to_string(), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
}

TEST(Prefix, ParsesClampsAndContains) {
    auto p = Prefix::parse("10.1.2.3/16");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->to_string(), "10.1.0.0/16");
    EXPECT_FALSE(Prefix::parse("10.1.2.3/16", /*strict=*/true));
    EXPECT_TRUE(Prefix::parse("10.1.0.0/16", true));
    EXPECT_FALSE(Prefix::parse("10.0.0.0/33"));
    EXPECT_FALSE(Prefix::parse("10.0.0.0/"));
    EXPECT_FALSE(Prefix::parse("10.0.0.0/-1"));
    EXPECT_FALSE(Prefix::parse("10.0.0.0/+8"));
    EXPECT_FALSE(Prefix::parse("10.0.0.0/0008"));
    EXPECT_EQ(Prefix::parse("2001:db8::/129"), std::nullopt);
    EXPECT_EQ(Prefix::parse("1.2.3.4")->length(), 32u);
    EXPECT_TRUE(p->contains(*IpAddress::parse("10.1.255.255")));
    EXPECT_FALSE(p->contains(*IpAddress::parse("10.2.0.0")));
    EXPECT_FALSE(p->contains(*IpAddress::parse("::a01:0")));  // other family
    EXPECT_TRUE(Prefix::parse("0.0.0.0/0")->contains(*IpAddress::parse("1.2.3.4")));
    EXPECT_TRUE(p->contains(*Prefix::parse("10.1.2.0/24")));
    EXPECT_FALSE(Prefix::parse("10.1.2.0/24")->contains(*p));
}

// Our parser and formatter are hand-written for speed; glibc is the reference.
TEST(IpAddress, FormatAgreesWithInetNtop) {
    std::mt19937_64 rng(7);
    std::vector<std::array<std::uint8_t, 16>> cases;
    for (const char* s :
         {"::", "::1", "::2", "1::", "::ffff:1.2.3.4", "::1.2.3.4", "::0.0.0.2", "1:0:0:1:0:0:0:1",
          "1:0:0:0:1:0:0:1", "0:1:0:1:0:1:0:1", "::ffff:0:0", "ffff::", "::ffff", "::1:0:0:0",
          "64:ff9b::1.2.3.4", "fe80::1:2", "2001:db8:0:0:1:0:0:1", "0:0:1::", "::1:0"}) {
        std::array<std::uint8_t, 16> b;
        ASSERT_EQ(inet_pton(AF_INET6, s, b.data()), 1) << s;
        cases.push_back(b);
    }
    for (int i = 0; i < 20000; ++i) {
        std::array<std::uint8_t, 16> b{};
        for (auto& x : b) x = static_cast<std::uint8_t>(rng());
        // Zero out random groups, so "::" placement is exercised hard.
        for (int g = 0; g < 8; ++g)
            if (rng() % 2) b[2 * g] = b[2 * g + 1] = 0;
        cases.push_back(b);
    }
    for (const auto& b : cases) {
        char ref[INET6_ADDRSTRLEN];
        ASSERT_TRUE(inet_ntop(AF_INET6, b.data(), ref, sizeof ref));
        auto a = IpAddress::from_bytes(Family::kV6, b.data());
        EXPECT_EQ(a.to_string(), ref);
        EXPECT_EQ(IpAddress::parse(ref), a) << ref;
    }
    for (int i = 0; i < 20000; ++i) {
        std::uint32_t v = static_cast<std::uint32_t>(rng()) >> (rng() % 32);
        auto a = IpAddress::v4(v);
        char ref[INET_ADDRSTRLEN];
        std::uint32_t n = htonl(v);
        ASSERT_TRUE(inet_ntop(AF_INET, &n, ref, sizeof ref));
        EXPECT_EQ(a.to_string(), ref);
        EXPECT_EQ(IpAddress::parse(ref), a) << ref;
    }
}

TEST(IpAddress, V4ParserAgreesWithInetPton) {
    for (const char* s : {"0.0.0.0", "255.255.255.255", "1.2.3.4", "1.2.3.04", "1.2.3", "1..2.3",
                          ".1.2.3", "1.2.3.4.", "1.2.3.256", "1.2.3.1000", "1.2.3.-1", "1.2.3.4x",
                          "00.1.2.3", "0.0.0.00", "4294967295", "0x1.2.3.4", "1.2.3.4 "}) {
        std::uint8_t b[4];
        const bool ref = inet_pton(AF_INET, s, b) == 1;
        EXPECT_EQ(IpAddress::parse(s).has_value(), ref) << s;
    }
}

// masked() against a bit-by-bit model, every length, both families.
TEST(IpAddress, MaskedMatchesBitModel) {
    const IpAddress addrs[] = {*IpAddress::parse("255.255.255.255"),
                               *IpAddress::parse("10.170.85.1"),
                               *IpAddress::parse("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
                               *IpAddress::parse("2001:db8:aaaa:5555:1234:5678:9abc:def0")};
    for (const auto& a : addrs) {
        for (unsigned len = 0; len <= a.bits() + 1; ++len) {
            const IpAddress m = a.masked(len);
            ASSERT_EQ(m.family(), a.family());
            for (unsigned i = 0; i < 128; ++i)
                ASSERT_EQ(m.bit(i), i < len && i < a.bits() && a.bit(i))
                    << a.to_string() << "/" << len << " bit " << i;
        }
    }
}

// The hand-written parsers accept exactly what glibc's inet_pton accepts, with
// the same bytes: on random strings over the address alphabet (nearly all
// malformed, in every way a ':' '.' or digit can be misplaced) and on random
// addresses written in every legal form (compressed, upper case, leading
// zeros, dotted tail).
TEST(IpAddress, ParseAgreesWithInetPton) {
    std::mt19937_64 rng(7);
    auto check = [](const std::string& s) {
        std::uint8_t b6[16], b4[4];
        const bool v6 = inet_pton(AF_INET6, s.c_str(), b6) == 1;
        const bool v4 = inet_pton(AF_INET, s.c_str(), b4) == 1;
        const auto a = IpAddress::parse(s);
        ASSERT_EQ(a.has_value(), v6 || v4) << "'" << s << "'";
        if (!a) return;
        ASSERT_EQ(a->is_v4(), v4) << s;
        ASSERT_EQ(std::memcmp(a->bytes(), v4 ? b4 : b6, v4 ? 4 : 16), 0) << s;
    };
    static constexpr char kAlphabet[] = "0123456789abcdefABCDEFg:::::...";
    for (int i = 0; i < 200000; ++i) {
        std::string s;
        const std::size_t len = rng() % 24;
        for (std::size_t k = 0; k < len; ++k) s += kAlphabet[rng() % (sizeof kAlphabet - 1)];
        check(s);
    }
    for (int i = 0; i < 50000; ++i) {
        std::uint16_t g[8];
        for (auto& x : g)
            x = rng() % 3 == 0 ? 0 : static_cast<std::uint16_t>(rng() >> (rng() % 16));
        const bool dotted = rng() % 4 == 0;
        const int groups = dotted ? 6 : 8;
        // Compress a random run (possibly empty, possibly of non-zero groups:
        // then the text is malformed and both must say so).
        const int from = static_cast<int>(rng() % (groups + 1));
        const int to = from + static_cast<int>(rng() % (groups - from + 1));
        std::string s;
        for (int k = 0; k < groups; ++k) {
            if (k == from && to > from) {
                s += k == 0 ? "::" : ":";
                k = to - 1;
                continue;
            }
            char buf[8];
            std::snprintf(buf, sizeof buf, rng() % 2 ? "%x" : (rng() % 2 ? "%04X" : "%02x"), g[k]);
            s += buf;
            if (k + 1 < groups || dotted) s += ":";
        }
        if (dotted) {
            s += std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + "." +
                 std::to_string(rng() % 300) + "." + std::to_string(rng() % 256);
        } else if (to == groups && from < groups && to > from) {
            s += ":";
        }
        check(s);
        // And each with one character dropped or doubled.
        const std::size_t at = rng() % s.size();
        check(s.substr(0, at) + s.substr(at + 1));
        check(s.substr(0, at) + s[at] + s.substr(at));
    }
    for (const char* s : {"::",
                          "::1",
                          "1::",
                          "1:2:3:4:5:6:7::",
                          "::2:3:4:5:6:7:8",
                          "1:2:3:4:5:6:7:8",
                          "::ffff:1.2.3.4",
                          "::1.2.3.4",
                          "1::1.2.3.4",
                          "1:2:3:4:5:6:1.2.3.4",
                          ":",
                          ":::",
                          "1:::2",
                          ":1::",
                          "1::2::3",
                          "1:2:3:4:5:6:7:8:9",
                          "1:2:3:4::5:6:7:8",
                          "1:2:3:4:5:6:7:1.2.3.4",
                          "::01.2.3.4",
                          "12345::",
                          "::1.2.3",
                          "1.2.3.4",
                          "01.2.3.4",
                          "1.2.3.4.",
                          "fe80::1%eth0",
                          ""})
        check(s);
}

TEST(IpAddress, HostPort) {
    using signpost::common::parse_host_port;
    const auto a = parse_host_port("192.0.2.1:53");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->address.to_string(), "192.0.2.1");
    EXPECT_EQ(a->port, 53);
    const auto b = parse_host_port("[2001:db8::1]:65535");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->address.to_string(), "2001:db8::1");
    EXPECT_EQ(b->port, 65535);
    for (const char* bad :
         {"", "192.0.2.1", "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:5x", "2001:db8::1:53",
          "[2001:db8::1]", "[2001:db8::1]53", "host:53", "192.0.2.1:123456", ":53"})
        EXPECT_FALSE(parse_host_port(bad)) << bad;
}
