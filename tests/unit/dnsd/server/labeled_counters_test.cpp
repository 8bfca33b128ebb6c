#include "dnsd/server/labeled_counters.hpp"

#include <gtest/gtest.h>

#include "common/metrics_server.hpp"

namespace signpost::dnsd {
namespace {

TEST(LabeledCounters, SlotsAreStableSummedAndRendered) {
    LabeledCounters c;
    c.family("answers_total", "answers");
    const auto a = c.slot("answers_total", "node=\"a\"");
    const auto b = c.slot("answers_total", "node=\"b\"");
    EXPECT_NE(a, b);
    EXPECT_EQ(c.slot("answers_total", "node=\"a\""), a);  // the same series, the same slot
    c.allocate(2);
    c.worker(0)[a].store(3);
    c.worker(1)[a].store(4);
    c.worker(1)[b].store(1);
    EXPECT_EQ(c.sum(a), 7u);
    std::string out;
    c.render(out);
    EXPECT_EQ(out,
              "# HELP signpost_dnsd_answers_total answers\n"
              "# TYPE signpost_dnsd_answers_total counter\n"
              "signpost_dnsd_answers_total{node=\"a\"} 7\n"
              "signpost_dnsd_answers_total{node=\"b\"} 1\n");
}

TEST(LabeledCounters, BoundedSeriesShareTheOverflowSlot) {
    LabeledCounters c;
    c.family("f", "h");
    for (std::uint32_t i = 0; i < LabeledCounters::kOverflow; ++i)
        ASSERT_EQ(c.slot("f", "n=\"" + std::to_string(i) + "\""), i);
    EXPECT_EQ(c.slot("f", "n=\"one too many\""), LabeledCounters::kOverflow);
    EXPECT_EQ(c.slot("f", "n=\"another\""), LabeledCounters::kOverflow);
    EXPECT_EQ(c.series(), LabeledCounters::kOverflow);
    c.allocate(1);
    c.worker(0)[LabeledCounters::kOverflow].store(5);
    std::string out;
    c.render(out);
    EXPECT_NE(out.find("signpost_dnsd_labeled_overflow_total 5\n"), std::string::npos);
}

TEST(LabeledCounters, LabelValuesAreEscaped) {
    EXPECT_EQ(common::label_value("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
}

}  // namespace
}  // namespace signpost::dnsd
