#include "dnsd/wire/cookie.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "dnsd/wire/query.hpp"
#include "dnsd/wire/siphash.hpp"

using namespace signpost::dnsd;
using signpost::common::IpAddress;

namespace {
std::vector<std::uint8_t> unhex(const std::string& s) {
    std::vector<std::uint8_t> out;
    for (std::size_t i = 0; i + 1 < s.size(); i += 2)
        out.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
    return out;
}
std::string hex(const std::uint8_t* p, std::size_t n) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += d[p[i] >> 4];
        s += d[p[i] & 15];
    }
    return s;
}
CookieSecret secret_of(const std::string& h) {
    return *parse_cookie_secret(h);
}
}  // namespace

TEST(SipHash, ReferenceVectors) {
    // The paper's test key 00..0f and messages 00, 01, ... of each length.
    std::uint8_t key[16], msg[64];
    for (int i = 0; i < 16; ++i) key[i] = static_cast<std::uint8_t>(i);
    for (int i = 0; i < 64; ++i) msg[i] = static_cast<std::uint8_t>(i);
    EXPECT_EQ(signpost::dnsd::siphash24(key, msg, 0), 0x726fdb47dd0e0e31ULL);
    EXPECT_EQ(signpost::dnsd::siphash24(key, msg, 63), 0x958a324ceb064572ULL);
}

TEST(Cookie, Rfc9018AppendixA) {
    // A.1 to A.3: a new server cookie, the same client 40 minutes later, another client.
    const auto secret = secret_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
    struct Case {
        const char* client;
        const char* ip;
        std::uint32_t at;
        const char* want;
    } cases[] = {
        {"2464c4abcf10c957", "198.51.100.100", 1559731985, "010000005cf79f111f8130c3eee29480"},
        {"2464c4abcf10c957", "198.51.100.100", 1559734385, "010000005cf7a871d4a564a1442aca77"},
        {"fc93fc62807ddb86", "203.0.113.203", 1559734700, "010000005cf7a9acf73a7810aca2381e"},
    };
    for (const auto& c : cases) {
        std::uint8_t out[16];
        make_server_cookie(unhex(c.client).data(), c.at, *IpAddress::parse(c.ip), secret, out);
        EXPECT_EQ(hex(out, 16), c.want) << c.ip;
    }
}

TEST(Cookie, ReusedWhileValidAndYoungElseRenewed) {
    const auto secret = secret_of("e5e973e5a6b2a43f48e7dc849e37bfcf");
    const auto ip = *IpAddress::parse("198.51.100.100");
    QueryCookie q;
    q.present = true;
    const auto client = unhex("2464c4abcf10c957");
    std::copy(client.begin(), client.end(), q.client);
    const auto issued = unhex("010000005cf79f111f8130c3eee29480");  // at 1559731985
    std::copy(issued.begin(), issued.end(), q.server);
    q.server_len = 16;
    std::uint8_t out[16];
    // 20 minutes on: still ours and young, so it comes back as it was.
    answer_cookie(q, ip, secret, 1559731985 + 1200, out);
    EXPECT_EQ(hex(out, 16), "010000005cf79f111f8130c3eee29480");
    // 40 minutes on (A.2): renewed.
    answer_cookie(q, ip, secret, 1559734385, out);
    EXPECT_EQ(hex(out, 16), "010000005cf7a871d4a564a1442aca77");
    // Another address, another secret, a flipped bit, from the future: renewed.
    answer_cookie(q, *IpAddress::parse("198.51.100.101"), secret, 1559731985 + 60, out);
    EXPECT_NE(hex(out, 16), "010000005cf79f111f8130c3eee29480");
    answer_cookie(q, ip, secret_of("dd3bdf9344b678b185a6f5cb60fca715"), 1559731985 + 60, out);
    EXPECT_NE(hex(out, 16), "010000005cf79f111f8130c3eee29480");
    q.server[15] ^= 1;
    answer_cookie(q, ip, secret, 1559731985 + 60, out);
    EXPECT_EQ(out[4], 0x5c);
    EXPECT_NE(hex(out, 16).substr(8), "5cf79f111f8130c3eee29480");
    q.server[15] ^= 1;
    answer_cookie(q, ip, secret, 1559731985 - 600, out);  // issued 10 minutes ahead of us
    EXPECT_NE(hex(out, 16), "010000005cf79f111f8130c3eee29480");
    // IPv6 clients hash their 16 octets: a different cookie from the same inputs.
    std::uint8_t v6[16];
    make_server_cookie(q.client, 1559731985, *IpAddress::parse("2001:db8::1"), secret, v6);
    EXPECT_EQ(v6[0], 1);
    EXPECT_NE(hex(v6, 16), "010000005cf79f111f8130c3eee29480");
}

TEST(Cookie, QueryOptionLengthsPerRfc7873) {
    auto query = [](std::size_t cookie_len, int copies = 1) {
        std::vector<std::uint8_t> q = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1, 'a', 0, 0, 1, 0, 1};
        std::vector<std::uint8_t> opts;
        for (int c = 0; c < copies; ++c) {
            opts.insert(opts.end(), {0, 10, 0, static_cast<std::uint8_t>(cookie_len)});
            for (std::size_t i = 0; i < cookie_len; ++i)
                opts.push_back(static_cast<std::uint8_t>(i));
        }
        q.insert(q.end(),
                 {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, static_cast<std::uint8_t>(opts.size())});
        q.insert(q.end(), opts.begin(), opts.end());
        return q;
    };
    for (std::size_t len : {8u, 16u, 24u, 40u}) {
        Query q;
        const auto pkt = query(len);
        ASSERT_EQ(parse_query(std::span(pkt.data(), pkt.size()), q), ParseStatus::kOk) << len;
        EXPECT_TRUE(q.cookie.present);
        EXPECT_EQ(q.cookie.server_len, len - 8);
        EXPECT_EQ(q.cookie.client[7], 7);
    }
    for (std::size_t len : {0u, 7u, 9u, 15u, 41u}) {
        Query q;
        const auto pkt = query(len);
        EXPECT_EQ(parse_query(std::span(pkt.data(), pkt.size()), q), ParseStatus::kFormErr) << len;
    }
    Query q;
    const auto twice = query(8, 2);
    EXPECT_EQ(parse_query(std::span(twice.data(), twice.size()), q), ParseStatus::kFormErr);
}

TEST(Cookie, SecretIs32HexDigits) {
    const auto s = parse_cookie_secret("E5e973e5a6b2a43f48e7dc849e37bfcf");
    ASSERT_TRUE(s);
    EXPECT_EQ(hex(s->data(), 16), "e5e973e5a6b2a43f48e7dc849e37bfcf");
    EXPECT_FALSE(parse_cookie_secret("e5e973e5a6b2a43f48e7dc849e37bfc"));    // 31
    EXPECT_FALSE(parse_cookie_secret("e5e973e5a6b2a43f48e7dc849e37bfcf0"));  // 33
    EXPECT_FALSE(parse_cookie_secret("g5e973e5a6b2a43f48e7dc849e37bfcf"));
}
