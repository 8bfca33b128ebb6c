#include "redirectd/decide.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

using namespace signpost;
using namespace signpost::redirectd;

namespace {

common::IpAddress ip(const char* s) {
    return *common::IpAddress::parse(s);
}

std::vector<common::Prefix> trusted(std::initializer_list<const char*> list) {
    std::vector<common::Prefix> out;
    for (const char* p : list) out.push_back(*common::Prefix::parse(p));
    return out;
}

std::string write_config(const std::string& text) {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    const std::string path = testing::TempDir() + "/redirectd_test." + info->name() + "." +
                             std::to_string(getpid()) + ".toml";
    std::ofstream(path) << text;
    return path;
}

const char* kConfig = R"([[nodes]]
name = "a"
ipv4 = ["192.0.2.1"]
http_base = "https://a.cdn.test"
[[nodes]]
name = "b"
ipv4 = ["192.0.2.2"]
ipv6 = ["2001:db8::2"]
http_base = "http://b.cdn.test:8080/edge"
[maps.m]
default = ["a"]
cidr = { "10.1.0.0/16" = ["b"] }
[[redirects]]
name = "v.example.test"
map = "m"
ttl = 45
fallback = ["a"]
[http]
trusted_proxies = ["10.0.0.0/8", "::1"]
[[http.hosts]]
host = "DL.example.test."
redirect = "v.example.test"
[[http.hosts]]
host = "perm.example.test"
redirect = "v.example.test"
status = 301
)";

}  // namespace

TEST(Redirectd, ClientIsThePeerUnlessAProxyIsTrusted) {
    const auto t = trusted({"10.0.0.0/8"});
    auto xff = [&](const char* peer, const char* header) {
        return client_address(ip(peer), header, t, false);
    };
    EXPECT_EQ(xff("192.0.2.7", "198.51.100.1"), ip("192.0.2.7"));
    EXPECT_EQ(xff("10.0.0.1", "198.51.100.1"), ip("198.51.100.1"));
    // The right-most hop that is not itself a trusted proxy (lines joined by the server).
    EXPECT_EQ(xff("10.0.0.1", "203.0.113.5, 198.51.100.1, 10.2.3.4"), ip("198.51.100.1"));
    // Every hop trusted: the left-most.
    EXPECT_EQ(xff("10.0.0.1", "10.9.9.9, 10.2.3.4"), ip("10.9.9.9"));
    // Garbage ends the walk at what was vouched for so far.
    EXPECT_EQ(xff("10.0.0.1", "198.51.100.1, bogus"), ip("10.0.0.1"));
    // No header from a trusted proxy: the proxy is the client.
    EXPECT_EQ(xff("10.0.0.1", ""), ip("10.0.0.1"));
    // Forwarded (client_header = "Forwarded"): quoted IPv6 with a port, IPv4 with a port,
    // an element without for= ends the walk.
    EXPECT_EQ(client_address(ip("10.0.0.1"), "for=\"[2001:db8::9]:443\";proto=https", t, true),
              ip("2001:db8::9"));
    EXPECT_EQ(client_address(ip("10.0.0.1"), "For=192.0.2.44:5000", t, true), ip("192.0.2.44"));
    EXPECT_EQ(client_address(ip("10.0.0.1"), "for=192.0.2.44, proto=https", t, true),
              ip("10.0.0.1"));
    // An IPv4-mapped peer is its IPv4 address.
    EXPECT_EQ(xff("::ffff:10.0.0.1", "198.51.100.1"), ip("198.51.100.1"));
}

TEST(Redirectd, HostNames) {
    EXPECT_EQ(host_name("DL.Example.TEST"), "dl.example.test");
    EXPECT_EQ(host_name("dl.example.test.:8080"), "dl.example.test");
    EXPECT_EQ(host_name("[2001:db8::1]:80"), "[2001:db8::1]");
    EXPECT_EQ(host_name("a:b"), "");
    EXPECT_EQ(host_name("a b"), "");
    EXPECT_EQ(host_name("a@b"), "");
    EXPECT_EQ(host_name("a:123456"), "");
}

TEST(Redirectd, DecidesLikeDnsdAndKeepsThePath) {
    std::string error;
    auto c = load_http_config(write_config(kConfig), error);
    ASSERT_TRUE(c) << error;
    auto cfg = std::make_shared<const HttpConfig>(std::move(*c));
    RedirectState st;
    st.config = cfg;
    st.edges = std::shared_ptr<const dnsd::EdgeSet>(cfg, &cfg->edges);
    st.decisions = dnsd::compile_decisions(*st.edges, nullptr);
    dnsd::HealthView all_up;  // empty: the config's admin state alone
    auto o = decide_request(st, all_up, "dl.example.test", "/a/b.mp4?x=1&y=2", ip("10.1.2.3"), 0);
    EXPECT_EQ(o.status, 302u);
    EXPECT_EQ(o.location, "http://b.cdn.test:8080/edge/a/b.mp4?x=1&y=2");
    EXPECT_EQ(o.ttl, 45u);
    EXPECT_EQ(o.tier, dnsd::Tier::kCidr);
    o = decide_request(st, all_up, "dl.example.test", "/", ip("192.0.2.9"), 0);
    EXPECT_EQ(o.location, "https://a.cdn.test/");
    EXPECT_EQ(o.tier, dnsd::Tier::kDefault);
    // Absolute-form targets give their path; the host's own status.
    o = decide_request(st, all_up, "perm.example.test", "http://perm.example.test/z?q",
                       ip("192.0.2.9"), 0);
    EXPECT_EQ(o.status, 301u);
    EXPECT_EQ(o.location, "https://a.cdn.test/z?q");
    EXPECT_EQ(decide_request(st, all_up, "other.test", "/", ip("192.0.2.9"), 0).status, 421u);
    EXPECT_EQ(decide_request(st, all_up, "dl.example.test", "*", ip("192.0.2.9"), 0).status, 400u);
    // Quotes and angle brackets in the path cannot break out of the body's link.
    o = decide_request(st, all_up, "dl.example.test", "/\"><script>&", ip("192.0.2.9"), 0);
    std::string body;
    append_redirect_body(o.location, body);
    EXPECT_EQ(body,
              "<a href=\"https://a.cdn.test/&quot;&gt;&lt;script&gt;&amp;\">"
              "https://a.cdn.test/&quot;&gt;&lt;script&gt;&amp;</a>\n");
    // One Outcome reused: nothing of the last answer is left in the next.
    decide_request(st, all_up, "other.test", "/", ip("192.0.2.9"), 0, o);
    EXPECT_EQ(o.status, 421u);
    EXPECT_TRUE(o.location.empty());
    EXPECT_EQ(o.node, -1);
    decide_request(st, all_up, "dl.example.test", "/", ip("192.0.2.9"), 0, o);
    EXPECT_EQ(o.location, "https://a.cdn.test/");
    EXPECT_TRUE(o.why.empty());
    // Bytes outside ASCII are percent-encoded in the Location.
    o = decide_request(st, all_up, "dl.example.test", "/caf\xc3\xa9", ip("192.0.2.9"), 0);
    EXPECT_EQ(o.location, "https://a.cdn.test/caf%C3%A9");
}

TEST(Redirectd, ConfigErrorsNameFileAndLine) {
    std::string error;
    std::string text = kConfig;
    EXPECT_FALSE(load_http_config(
        write_config(std::string(text).replace(text.find("redirect = \"v.example.test\""), 27,
                                               "redirect = \"nope\"")),
        error));
    EXPECT_NE(error.find(":22: redirect = \"nope\": no [[redirects]] entry has that name"),
              std::string::npos)
        << error;
    text = kConfig;
    text.replace(text.find("http_base = \"https://a.cdn.test\"\n"), 33, "");
    EXPECT_FALSE(load_http_config(write_config(text), error));
    EXPECT_NE(error.find(":1: node a has no http_base"), std::string::npos) << error;
    text = kConfig;
    text.replace(text.find("https://a.cdn.test"), 18, "ftp://a");
    EXPECT_FALSE(load_http_config(write_config(text), error));
    EXPECT_NE(error.find(":4: http_base = \"ftp://a\": expected http:// or https://"),
              std::string::npos)
        << error;
    text = kConfig;
    text.replace(text.find("status = 301"), 12, "status = 303");
    EXPECT_FALSE(load_http_config(write_config(text), error));
    EXPECT_NE(error.find("status = 303: expected 301, 302, 307 or 308"), std::string::npos)
        << error;
}
