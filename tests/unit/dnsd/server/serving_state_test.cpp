#include "dnsd/server/serving_state.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>

#include "dnsd/zone/zone_loader.hpp"

using namespace signpost::dnsd;

namespace {

std::string temp_path(const std::string& what) {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    return testing::TempDir() + "/serving_state_test." + info->name() + "." + what + "." +
           std::to_string(getpid());
}

void write(const std::string& path, const std::string& text) {
    std::ofstream(path + ".tmp") << text;
    ASSERT_EQ(std::rename((path + ".tmp").c_str(), path.c_str()), 0);
}

std::shared_ptr<const ServingState> build(const std::string& config,
                                          const ServingState* previous = nullptr) {
    std::string error;
    auto c = load_config(config, error);
    EXPECT_TRUE(c) << error;
    if (!c) return nullptr;
    std::vector<std::string> warnings;
    auto st = build_state(*c, previous ? previous->generation + 1 : 1, error, warnings, {}, nullptr,
                          previous);
    EXPECT_TRUE(st) << error;
    return st;
}

const Zone& only_zone(const ServingState& st) {
    return *st.zones.all().front();
}

}  // namespace

TEST(ServingState, UnixtimeSerialRisesOnlyWhenTheRecordsChange) {
    const std::string zone = temp_path("zone"), config = temp_path("toml");
    write(zone, "$TTL 60\n@ SOA ns hm 5 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n");
    write(config,
          "[[zones]]\nname = \"example.test\"\nfile = \"" + zone + "\"\nserial = \"unixtime\"\n");
    const auto now = static_cast<std::uint32_t>(std::time(nullptr));
    auto v1 = build(config);
    ASSERT_TRUE(v1);
    EXPECT_GE(only_zone(*v1).serial, now);  // the file says 5
    // The same records: the same serial, however often it is reloaded.
    auto v2 = build(config, v1.get());
    EXPECT_EQ(only_zone(*v2).serial, only_zone(*v1).serial);
    // New records under the file's old serial: raised past the last served,
    // and the difference is kept for IXFR.
    write(zone, "$TTL 60\n@ SOA ns hm 5 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nw A 192.0.2.2\n");
    auto v3 = build(config, v2.get());
    const Zone& z3 = only_zone(*v3);
    EXPECT_GT(static_cast<std::int32_t>(z3.serial - only_zone(*v2).serial), 0);
    ASSERT_EQ(z3.history.size(), 1u);
    EXPECT_EQ(z3.history[0]->from_serial, only_zone(*v2).serial);
    EXPECT_EQ(z3.history[0]->added.size(), 1u);
    // The SOA itself says the new serial (what a secondary compares).
    const auto& rdata = z3.soa->records.front().rdata;
    const std::uint8_t* p = rdata.data() + rdata.size() - 20;
    EXPECT_EQ((std::uint32_t{p[0]} << 24) | (p[1] << 16) | (p[2] << 8) | p[3], z3.serial);
    // A file serial ahead of the clock wins.
    write(zone, "$TTL 60\n@ SOA ns hm 2000000000 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n");
    auto v4 = build(config, v3.get());
    EXPECT_EQ(only_zone(*v4).serial, 2000000000u);
    // With serial = "file" the file's serial is served as it is.
    write(config, "[[zones]]\nname = \"example.test\"\nfile = \"" + zone + "\"\n");
    write(zone, "$TTL 60\n@ SOA ns hm 5 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n");
    EXPECT_EQ(only_zone(*build(config)).serial, 5u);
}

TEST(ServingState, SecondaryWithoutACopyIsUnavailable) {
    const std::string copy = temp_path("copy"), config = temp_path("toml");
    ::unlink(copy.c_str());
    write(config, "[[zones]]\nname = \"example.test\"\nfile = \"" + copy +
                      "\"\nprimaries = [\"127.0.0.1:5300\"]\n");
    auto st = build(config);
    ASSERT_TRUE(st);
    EXPECT_TRUE(only_zone(*st).unavailable);
    EXPECT_TRUE(st->notify_zones.empty());
    ASSERT_EQ(st->secondaries.size(), 1u);
    // A copy confirmed just now is served; one older than its SOA expire is not.
    write(copy, "$TTL 60\n@ SOA ns hm 5 2 3 100 5\n@ NS ns\nns A 192.0.2.1\n");
    EXPECT_FALSE(only_zone(*build(config)).unavailable);
    const timespec old[2] = {{std::time(nullptr) - 200, 0}, {std::time(nullptr) - 200, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, copy.c_str(), old, 0), 0);
    EXPECT_TRUE(only_zone(*build(config)).unavailable);
    // A secondary takes its primaries' serial: the unixtime policy is refused.
    write(config, "[[zones]]\nname = \"example.test\"\nfile = \"" + copy +
                      "\"\nprimaries = [\"127.0.0.1:5300\"]\nserial = \"unixtime\"\n");
    std::string error;
    EXPECT_FALSE(load_config(config, error));
    EXPECT_NE(error.find(":5: serial: a secondary zone"), std::string::npos) << error;
}
