#include "dnsd/server/degradations.hpp"

#include <gtest/gtest.h>

namespace signpost::dnsd {
namespace {

using namespace std::chrono_literals;

struct Lines {
    std::vector<std::pair<common::LogLevel, std::string>> got;
    Degradations::Sink sink() {
        return [this](common::LogLevel l, const std::string& s) { got.emplace_back(l, s); };
    }
};

TEST(Degradations, OneLineWhenItStartsAndOneWhenItStops) {
    Lines lines;
    Degradations d(30s, lines.sink());
    const auto w = d.watch("fail-open answers", "every candidate is down");
    auto t = Degradations::Clock::time_point{} + 1000s;
    d.observe(w, 5, t);  // baseline: what happened before is not news
    EXPECT_TRUE(lines.got.empty());
    d.observe(w, 5, t += 1s);
    EXPECT_TRUE(lines.got.empty());
    d.observe(w, 17, t += 1s);
    ASSERT_EQ(lines.got.size(), 1u);
    EXPECT_EQ(lines.got[0].first, common::LogLevel::kWarn);
    EXPECT_EQ(lines.got[0].second,
              "degraded: fail-open answers started (12 in the last 1 s): every candidate is down");
    EXPECT_TRUE(d.active(w));
    // However fast it moves and however long it lasts: no more lines.
    for (int i = 0; i < 100; ++i) d.observe(w, 17 + 1000 * (i + 1), t += 1s);
    EXPECT_EQ(lines.got.size(), 1u);
    // Still for less than `quiet`: not over yet.
    for (int i = 0; i < 29; ++i) d.observe(w, 100017, t += 1s);
    EXPECT_EQ(lines.got.size(), 1u);
    d.observe(w, 100017, t += 1s);
    ASSERT_EQ(lines.got.size(), 2u);
    EXPECT_EQ(lines.got[1].first, common::LogLevel::kInfo);
    EXPECT_EQ(lines.got[1].second,
              "recovered: fail-open answers stopped: 100012 over 100 s, none in the last 30 s");
    EXPECT_FALSE(d.active(w));
    // A new episode is said again.
    d.observe(w, 100018, t += 5s);
    ASSERT_EQ(lines.got.size(), 3u);
    EXPECT_EQ(lines.got[2].second,
              "degraded: fail-open answers started (1 in the last 5 s): every candidate is down");
}

TEST(Degradations, WatchesAreIndependentAndAResetCounterIsABaseline) {
    Lines lines;
    Degradations d(10s, lines.sink());
    const auto a = d.watch("a", "x");
    const auto b = d.watch("b", "y");
    auto t = Degradations::Clock::time_point{} + 50s;
    d.observe(a, 0, t);
    d.observe(b, 0, t);
    d.observe(a, 3, t += 1s);
    d.observe(b, 0, t);
    EXPECT_TRUE(d.active(a));
    EXPECT_FALSE(d.active(b));
    ASSERT_EQ(lines.got.size(), 1u);
    d.observe(b, 0, t += 1s);
    // A total that went backwards (counters restarted) is a new baseline, not news.
    d.observe(a, 1, t);
    d.observe(a, 1, t += 10s);
    EXPECT_FALSE(d.active(a));
    ASSERT_EQ(lines.got.size(), 2u);
    EXPECT_EQ(lines.got[1].second, "recovered: a stopped: 3 over 1 s, none in the last 11 s");
}

}  // namespace
}  // namespace signpost::dnsd
