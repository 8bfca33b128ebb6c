#include "dnsd/health/admin_state.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

using namespace signpost::dnsd;

TEST(AdminState, RoundTripsThroughTheStateFile) {
    AdminOverrides o;
    o["fra1"] = {AdminMode::kDown, 1795000000123, 0};
    o["ams1"] = {AdminMode::kDrain, 1795000000456, 300};
    o["nyc1"] = {AdminMode::kUp, 1795000000789, 0};
    o["sfo1"] = {AdminMode::kAuto, 1, 0};  // auto is the absence of an override
    std::vector<std::string> warnings;
    const auto back = parse_admin_state(format_admin_state(o), "state", warnings);
    EXPECT_TRUE(warnings.empty());
    ASSERT_EQ(back.size(), 3u);
    EXPECT_EQ(back.at("fra1").mode, AdminMode::kDown);
    EXPECT_EQ(back.at("fra1").since_ms, 1795000000123);
    EXPECT_EQ(back.at("ams1").mode, AdminMode::kDrain);
    EXPECT_EQ(back.at("ams1").drain_s, 300u);
    EXPECT_EQ(back.at("nyc1").mode, AdminMode::kUp);
    EXPECT_FALSE(back.count("sfo1"));
}

TEST(AdminState, BadLinesAreSkippedWithFileAndLine) {
    std::vector<std::string> warnings;
    const auto o = parse_admin_state(
        "# comment\n\nfra1 down 17\nams1 sideways 17\nnyc1 drain 17\nsfo1 up x\nlon1 up 5 9\n"
        "par1 drain 20 60\n",
        "/var/lib/signpost/admin.state", warnings);
    ASSERT_EQ(o.size(), 2u);
    EXPECT_EQ(o.at("fra1").mode, AdminMode::kDown);
    EXPECT_EQ(o.at("par1").drain_s, 60u);
    ASSERT_EQ(warnings.size(), 4u);
    EXPECT_NE(warnings[0].find("/var/lib/signpost/admin.state:4: "), std::string::npos)
        << warnings[0];
    EXPECT_NE(warnings[0].find("sideways"), std::string::npos);
    EXPECT_NE(warnings[1].find(":5: drain needs"), std::string::npos) << warnings[1];
    EXPECT_NE(warnings[2].find(":6: since"), std::string::npos) << warnings[2];
    EXPECT_NE(warnings[3].find(":7: only drain"), std::string::npos) << warnings[3];
}

TEST(AdminState, DrainRampsLinearly) {
    AdminOverride o{AdminMode::kDrain, 1000000, 10};
    EXPECT_DOUBLE_EQ(drain_keep(o, 1000000), 1.0);
    EXPECT_DOUBLE_EQ(drain_keep(o, 1002500), 0.75);
    EXPECT_DOUBLE_EQ(drain_keep(o, 1010000), 0.0);
    EXPECT_DOUBLE_EQ(drain_keep(o, 1090000), 0.0);
    EXPECT_DOUBLE_EQ(drain_keep(o, 999000), 1.0);  // clock stepped back: not above 1
    o.drain_s = 0;
    EXPECT_DOUBLE_EQ(drain_keep(o, 1000000), 0.0);  // drain 0: at once
    o.mode = AdminMode::kDown;
    EXPECT_DOUBLE_EQ(drain_keep(o, 1000000), 1.0);  // not draining
}

TEST(AdminState, ExternalMarksNodesAndAddresses) {
    std::vector<ExternalMark> m;
    std::string error;
    ASSERT_TRUE(parse_external(
        "# from probe-3\nfra1 down maintenance window, ticket 4711\n"
        "ams1 2001:db8::10 down IPv6 path broken\nnyc1 up\nlon1 192.0.2.7 up\n  \t\nsfo1 down\n",
        "ext", m, error))
        << error;
    ASSERT_EQ(m.size(), 3u);
    EXPECT_EQ(m[0].node, "fra1");
    EXPECT_FALSE(m[0].address);
    EXPECT_EQ(m[0].reason, "maintenance window, ticket 4711");
    EXPECT_EQ(m[0].line, 2);
    EXPECT_EQ(m[1].node, "ams1");
    ASSERT_TRUE(m[1].address);
    EXPECT_EQ(m[1].address->to_string(), "2001:db8::10");
    EXPECT_EQ(m[1].reason, "IPv6 path broken");
    EXPECT_EQ(m[2].node, "sfo1");
    EXPECT_EQ(m[2].reason, "marked down in ext");
}

TEST(AdminState, ExternalFileWithABadLineIsRefusedWhole) {
    std::vector<ExternalMark> m;
    m.push_back({"kept", std::nullopt, "from before", 1});
    std::string error;
    for (const char* text :
         {"fra1 down\nams1 sideways\n", "fra1 down\nams1\n", "fra1 down\nams1 192.0.2.300 down\n",
          "ams1 192.0.2.1\n", "ams1 192.0.2.1 maybe\n"}) {
        error.clear();
        EXPECT_FALSE(parse_external(text, "/run/ext", m, error)) << text;
        EXPECT_EQ(error.rfind("/run/ext:", 0), 0u) << error;
        ASSERT_EQ(m.size(), 1u);
        EXPECT_EQ(m[0].node, "kept");
    }
    parse_external("fra1 down\nams1 sideways\n", "/run/ext", m, error);
    EXPECT_NE(error.find("/run/ext:2: \"sideways\" is neither down, up nor an address"),
              std::string::npos)
        << error;
}

TEST(AdminState, AtomicWriteReplacesWholeAndLeavesNoTemporary) {
    const auto dir =
        std::filesystem::temp_directory_path() / ("signpost-admin-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "admin.state").string();
    std::string error, back;
    ASSERT_TRUE(write_file_atomically(path, "one\n", error)) << error;
    ASSERT_TRUE(write_file_atomically(path, "two\n", error)) << error;
    ASSERT_TRUE(read_small_file(path, back, error)) << error;
    EXPECT_EQ(back, "two\n");
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir),
                            std::filesystem::directory_iterator{}),
              1);
    // A directory that does not exist: an error naming the path, nothing applied.
    EXPECT_FALSE(write_file_atomically((dir / "nope" / "x").string(), "x", error));
    EXPECT_NE(error.find("nope"), std::string::npos) << error;
    std::filesystem::remove_all(dir);
}
