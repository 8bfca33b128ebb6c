#include "dnsd/redirect/nodes_config.hpp"

#include <gtest/gtest.h>
#include <toml++/toml.h>

using namespace signpost::dnsd;

namespace {
std::optional<EdgeSet> load(std::string_view text, std::string& error) {
    return load_edges(toml::parse(text), "/etc/signpost/dnsd.toml", error);
}
}  // namespace

TEST(EdgeConfig, CheckPrecedenceNodeOverMapOverHealth) {
    std::string error;
    auto e = load(R"(
[health]
type = "http"
port = 80
interval_ms = 3000
[[nodes]]
name = "own"
ipv4 = ["192.0.2.1"]
check = { type = "tcp", port = 22 }
[[nodes]]
name = "mapped"
ipv4 = ["192.0.2.2"]
[[nodes]]
name = "plain"
ipv4 = ["192.0.2.3"]
[maps.m]
check = { type = "https", path = "/healthz" }
default = ["own", "mapped"]
[maps.other]
default = ["plain"]
)",
                  error);
    ASSERT_TRUE(e) << error;
    const auto& own = e->nodes[e->node_index.at("own")].check;
    const auto& mapped = e->nodes[e->node_index.at("mapped")].check;
    const auto& plain = e->nodes[e->node_index.at("plain")].check;
    EXPECT_EQ(own.type, CheckConfig::Type::kTcp);
    EXPECT_EQ(own.port, 22);
    EXPECT_EQ(mapped.type, CheckConfig::Type::kHttps);  // the map's
    EXPECT_EQ(mapped.path, "/healthz");
    EXPECT_EQ(mapped.interval_ms, 3000u);  // [health] under the map's fields
    EXPECT_EQ(plain.type, CheckConfig::Type::kHttp);
    EXPECT_EQ(plain.path, "/");
}

TEST(EdgeConfig, TwoMapsWithDifferentChecksForOneNodeIsAnError) {
    std::string error;
    auto e = load(R"([[nodes]]
name = "shared"
ipv4 = ["192.0.2.1"]
[maps.a]
check = { type = "tcp", port = 80 }
default = ["shared"]
[maps.b]
check = { type = "tcp", port = 443 }
country = { DE = ["shared"] }
default = ["shared"]
)",
                  error);
    EXPECT_FALSE(e);
    EXPECT_NE(error.find("node shared has no check of its own and maps a "
                         "(/etc/signpost/dnsd.toml:5) and b set different checks"),
              std::string::npos)
        << error;
    EXPECT_EQ(error.rfind("/etc/signpost/dnsd.toml:8: ", 0), 0u) << error;
}

TEST(EdgeConfig, HealthSettings) {
    std::string error;
    auto e = load(R"([health]
warmup = "down"
drain_seconds = 90
state_file = "state/admin.state"
external_file = "/run/ext"
external_max_age_s = 120
)",
                  error);
    ASSERT_TRUE(e) << error;
    EXPECT_EQ(e->health.warmup, HealthSettings::Warmup::kDown);
    EXPECT_EQ(e->health.drain_s, 90u);
    EXPECT_EQ(e->health.state_file, "/etc/signpost/state/admin.state");  // beside the config
    EXPECT_EQ(e->health.external_file, "/run/ext");
    EXPECT_EQ(e->health.external_max_age_s, 120u);
    EXPECT_FALSE(load("[health]\nwarmup = \"later\"\n", error));
    EXPECT_NE(error.find(":2: warmup = \"later\": expected \"wait\", \"up\" or \"down\""),
              std::string::npos)
        << error;
    EXPECT_FALSE(load("[health]\ndrain_secs = 5\n", error));
    EXPECT_NE(error.find("unknown key 'drain_secs' in [health]"), std::string::npos) << error;
}

// A node's admin: "up", "down", or "" (up, as before the schema); anything
// else refused with the words it takes, and an unknown key with the real ones.
TEST(EdgeConfig, NodeAdminWordsAndUnknownKeys) {
    std::string error;
    auto e = load(R"(
[[nodes]]
name = "a"
ipv4 = ["192.0.2.1"]
admin = ""
[[nodes]]
name = "b"
ipv4 = ["192.0.2.2"]
admin = "down"
)",
                  error);
    ASSERT_TRUE(e) << error;
    EXPECT_TRUE(e->nodes[0].admin_up);
    EXPECT_FALSE(e->nodes[1].admin_up);
    EXPECT_FALSE(load("[[nodes]]\nname = \"a\"\nipv4 = [\"192.0.2.1\"]\nadmin = \"off\"\n", error));
    EXPECT_NE(error.find(":4: admin = \"off\": expected \"up\", \"down\" or \"\""),
              std::string::npos)
        << error;
    EXPECT_FALSE(load("[[nodes]]\nname = \"a\"\nipv4 = [\"192.0.2.1\"]\nwieght = 5\n", error));
    EXPECT_NE(error.find(":4: unknown key 'wieght' in [[nodes]] (known: name, weight, "
                         "http_base, admin, ipv4, ipv6, check, latitude, longitude)"),
              std::string::npos)
        << error;
}

TEST(EdgeConfig, UnknownCountryAndContinentCodesAreRefusedWithTheirLine) {
    const std::string nodes = "[[nodes]]\nname = \"a\"\nipv4 = [\"192.0.2.1\"]\n[maps.world]\n";
    std::string error;
    ASSERT_TRUE(load(nodes + "country = { GB = [\"a\"], XK = [\"a\"], EU = [\"a\"] }\n"
                             "continent = { AN = [\"a\"], OC = [\"a\"] }\ndefault = [\"a\"]\n",
                     error))
        << error;
    EXPECT_FALSE(
        load(nodes + "default = [\"a\"]\ncountry = { GB = [\"a\"], UK = [\"a\"] }\n", error));
    EXPECT_NE(error.find(":6: country: \"UK\" is not an ISO 3166-1 country code"),
              std::string::npos)
        << error;
    EXPECT_FALSE(
        load(nodes + "default = [\"a\"]\ncontinent = { EU = [\"a\"], AP = [\"a\"] }\n", error));
    EXPECT_NE(error.find(":6: continent: \"AP\" is not a continent code (AF, AN, AS, EU, NA, OC "
                         "or SA)"),
              std::string::npos)
        << error;
}
