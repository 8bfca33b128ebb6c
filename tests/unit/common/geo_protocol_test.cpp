#include "common/geo_protocol.hpp"

#include <gtest/gtest.h>

using namespace signpost::common;

TEST(GeoProtocol, LookupForms) {
    for (const char* line :
         {"81.2.69.142", "lookup 81.2.69.142", " 81.2.69.142\r", "::ffff:81.2.69.142"}) {
        auto r = parse_request(line);
        ASSERT_EQ(r.kind, RequestKind::kLookup) << line;
        EXPECT_EQ(r.address.to_string(), "81.2.69.142") << line;
    }
    EXPECT_EQ(parse_request("2001:db8::1").address.to_string(), "2001:db8::1");
}

TEST(GeoProtocol, Commands) {
    EXPECT_EQ(parse_request("info").kind, RequestKind::kInfo);
    EXPECT_EQ(parse_request("stats\r").kind, RequestKind::kStats);
    EXPECT_EQ(parse_request("table").kind, RequestKind::kTable);
    EXPECT_EQ(parse_request(" subscribe\r").kind, RequestKind::kSubscribe);
    EXPECT_EQ(parse_request("table 1").kind, RequestKind::kError);
}

TEST(GeoProtocol, ErrorsCarryAReason) {
    for (const char* line : {"", "\r", "INFO", "lookup", "lookup x", "1.2.3.4 5", "1.2.3.4/24",
                             "\x01\x02", "stats please"}) {
        auto r = parse_request(line);
        EXPECT_EQ(r.kind, RequestKind::kError) << line;
        EXPECT_FALSE(r.error.empty());
    }
    EXPECT_EQ(parse_request(std::string(kMaxRequestLine + 1, '1')).error, "request too long");
}
