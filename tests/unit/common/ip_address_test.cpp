#include "common/ip_address.hpp"

#include <gtest/gtest.h>

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
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4",
                            "::g", "1:2:3:4:5:6:7:8:9", "abc", "1.2.3.4/24",
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
