#include "common/line_framer.hpp"

#include <gtest/gtest.h>

#include <vector>

using signpost::common::LineFramer;

namespace {
struct Collect {
    std::vector<std::string> lines, overlong;
    void feed(LineFramer& f, std::string_view s) {
        f.feed(
            s, [&](std::string_view l) { lines.emplace_back(l); },
            [&](std::string_view h) { overlong.emplace_back(h); });
    }
};
}  // namespace

TEST(LineFramer, SplitsAcrossReads) {
    LineFramer f(16);
    Collect c;
    c.feed(f, "ab");
    c.feed(f, "c\nde\n\nf");
    c.feed(f, "g\n");
    EXPECT_EQ(c.lines, (std::vector<std::string>{"abc", "de", "", "fg"}));
    EXPECT_TRUE(c.overlong.empty());
}

TEST(LineFramer, SkipsOverlongLineOnceAndRecovers) {
    LineFramer f(8);
    Collect c;
    c.feed(f, "0123456789");  // too long, no newline yet
    c.feed(f, "abcdef");      // still the same line: skipped silently
    c.feed(f, "xyz\nok\n");
    EXPECT_EQ(c.overlong.size(), 1u);
    EXPECT_EQ(c.overlong[0], "0123456789");
    EXPECT_EQ(c.lines, (std::vector<std::string>{"ok"}));
}

TEST(LineFramer, OverlongWithinOneRead) {
    LineFramer f(4);
    Collect c;
    c.feed(f, "abcd\nabcde\nx\n");
    EXPECT_EQ(c.lines, (std::vector<std::string>{"abcd", "x"}));
    EXPECT_EQ(c.overlong, (std::vector<std::string>{"abcde"}));
}

TEST(LineFramer, FinishDeliversLastLineWithoutNewline) {
    LineFramer f(16);
    Collect c;
    c.feed(f, "a\nb");
    f.finish([&](std::string_view l) { c.lines.emplace_back(l); });
    EXPECT_EQ(c.lines, (std::vector<std::string>{"a", "b"}));
}
