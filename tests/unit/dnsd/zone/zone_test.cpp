#include "dnsd/zone/zone.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>
#include <fstream>

#include "dnsd/zone/zone_loader.hpp"

using namespace signpost::dnsd;

namespace {
const std::string kZone = std::string(SIGNPOST_SOURCE_DIR) + "/tests/system/data/test.zone";

LookupResult find(const Zone& z, const char* text, bool ds = false) {
    static NameBuf buf;
    const std::string w = text_to_wire(text);
    EXPECT_TRUE(buf.set(reinterpret_cast<const std::uint8_t*>(w.data())));
    return lookup(z, buf.ref, ds);
}

// One file per test and process: ctest runs tests in parallel processes.
std::string write_zone(const std::string& body) {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    const std::string path = testing::TempDir() + "/zone_test." + info->name() + "." +
                             std::to_string(getpid()) + ".zone";
    std::ofstream(path) << body;
    return path;
}
}  // namespace

TEST(Zone, LookupKinds) {
    auto r = load_zone_file("example.test", kZone);
    ASSERT_TRUE(r.zone) << r.error;
    const Zone& z = *r.zone;
    EXPECT_EQ(z.serial, 2026112301u);
    EXPECT_EQ(z.negative_ttl, 300u);
    EXPECT_EQ(find(z, "www.example.test").kind, LookupKind::kAnswer);
    EXPECT_EQ(find(z, "WWW.Example.TEST").kind, LookupKind::kAnswer);
    EXPECT_EQ(find(z, "nope.example.test").kind, LookupKind::kNxDomain);
    auto ent = find(z, "ent.example.test");
    EXPECT_EQ(ent.kind, LookupKind::kAnswer);
    EXPECT_TRUE(ent.node->empty());
    auto wild = find(z, "a.b.wild.example.test");
    EXPECT_TRUE(wild.wildcard);
    EXPECT_EQ(find(z, "x.exists.wild.example.test").kind, LookupKind::kNxDomain);
    auto cut = find(z, "deep.under.child.example.test");
    EXPECT_EQ(cut.kind, LookupKind::kReferral);
    EXPECT_EQ(cut.cut_name, std::string_view("\5child\7example\4test\0", 20));
    EXPECT_EQ(find(z, "child.example.test", true).kind, LookupKind::kAnswer);
}

TEST(Zone, ZoneSetPicksLongestOrigin) {
    ZoneSet set;
    auto parent = load_zone_file("example.test", kZone);
    auto child =
        load_zone_file("child.example.test",
                       write_zone("$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n"));
    ASSERT_TRUE(child.zone) << child.error;
    set.add(parent.zone);
    set.add(child.zone);
    NameBuf b;
    const std::string w = text_to_wire("ns.child.example.test");
    b.set(reinterpret_cast<const std::uint8_t*>(w.data()));
    EXPECT_EQ(set.find(b.ref), child.zone.get());
    const std::string w2 = text_to_wire("www.example.test");
    b.set(reinterpret_cast<const std::uint8_t*>(w2.data()));
    EXPECT_EQ(set.find(b.ref), parent.zone.get());
    const std::string w3 = text_to_wire("example.org");
    b.set(reinterpret_cast<const std::uint8_t*>(w3.data()));
    EXPECT_EQ(set.find(b.ref), nullptr);
}

TEST(ZoneLoader, ErrorsNameFileLineAndWhy) {
    struct Case {
        const char* body;
        int line;
        const char* what;
    } cases[] = {
        {"$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nbad A 300.1.1.1\n", 4, "300.1.1.1"},
        {"$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nx CNAME a\nx A 192.0.2.1\n", 5,
         "CNAME and other data"},
        {"$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nwww.example.org. A 192.0.2.1\n", 4,
         "outside the zone"},
        {"$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ SOA ns hm 2 2 3 4 5\n@ NS ns\n", 3, "second SOA"},
        {"$TTL 60\n@ NS ns\n", 0, "no SOA"},
        {"$TTL 60\n@ SOA ns hm 1 2 3 4 5\n", 0, "no NS"},
        {"$TTL 60\n$INCLUDE other.zone\n", 2, "$INCLUDE"},
    };
    for (const auto& c : cases) {
        const auto path = write_zone(c.body);
        auto r = load_zone_file("example.test", path);
        EXPECT_FALSE(r.zone) << c.body;
        const std::string where = c.line ? path + ":" + std::to_string(c.line) + ":" : path + ":";
        EXPECT_NE(r.error.find(where), std::string::npos) << r.error;
        EXPECT_NE(r.error.find(c.what), std::string::npos) << r.error;
    }
}

TEST(ZoneLoader, DuplicatesMergedAndTtlMismatchWarned) {
    auto r = load_zone_file(
        "example.test",
        write_zone("$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nw A 192.0.2.1\nw A 192.0.2.1\n"
                   "w 30 A 192.0.2.2\n"));
    ASSERT_TRUE(r.zone) << r.error;
    const Node* w = r.zone->node(std::string_view("\1w\7example\4test\0", 16));
    ASSERT_TRUE(w);
    const RRset* a = w->find(type::A);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->records.size(), 2u);
    EXPECT_EQ(a->ttl, 30u);
    EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(NameIndex, FindsEveryKeyAndNothingElse) {
    // Keys of every length from 1 to 255 octets (the tail reads of the hash
    // differ by length), and keys that differ only in their last octet.
    std::vector<std::string> keys;
    for (std::size_t len = 1; len <= 255; ++len) keys.push_back(std::string(len, 'a'));
    for (int c = 0; c < 256; ++c) keys.push_back("\3www\7example" + std::string(1, char(c)));
    std::vector<std::pair<std::string_view, int>> items;
    for (std::size_t i = 0; i < keys.size(); ++i) items.emplace_back(keys[i], static_cast<int>(i));
    NameIndex<int> index;
    index.build(items);
    ASSERT_EQ(index.size(), keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const int* v = index.find(keys[i]);
        ASSERT_NE(v, nullptr) << i;
        EXPECT_EQ(*v, static_cast<int>(i));
    }
    EXPECT_EQ(index.find(std::string(256, 'a')), nullptr);
    EXPECT_EQ(index.find("\3www\7exampl"), nullptr);
    EXPECT_EQ(index.find(std::string_view("", 0)), nullptr);
    EXPECT_EQ(NameIndex<int>{}.find("a"), nullptr);  // never built
}

TEST(Zone, NamesAddedAfterSealingAreStillFound) {
    auto r = load_zone_file("example.test", kZone);
    ASSERT_TRUE(r.zone) << r.error;
    ZoneSet set;
    set.add(r.zone);  // seals
    const std::string w = text_to_wire("late.example.test");
    EXPECT_EQ(r.zone->node(w), nullptr);
    r.zone->nodes[w];  // an empty node, added after the index was built
    EXPECT_NE(r.zone->node(w), nullptr);
    r.zone->seal();
    EXPECT_NE(r.zone->node(w), nullptr);
    EXPECT_NE(find(*r.zone, "www.example.test").node, nullptr);
}

TEST(Zone, HistoryHoldsTheDifferencesBetweenSerials) {
    auto load = [](int serial, const std::string& extra) {
        auto r = load_zone_file("example.test",
                                write_zone("$TTL 60\n@ SOA ns hm " + std::to_string(serial) +
                                           " 2 3 4 5\n@ NS ns\nw A 192.0.2.1\n" + extra));
        EXPECT_TRUE(r.zone) << r.error;
        r.zone->seal();
        return r.zone;
    };
    auto v1 = load(1, "old A 192.0.2.9\n");
    auto v2 = load(2, "new A 192.0.2.10\n");
    record_history(*v2, *v1);
    ASSERT_EQ(v2->history.size(), 1u);
    const ZoneDiff& d = *v2->history[0];
    EXPECT_EQ(d.from_serial, 1u);
    EXPECT_EQ(d.to_serial, 2u);
    ASSERT_EQ(d.deleted.size(), 1u);
    EXPECT_EQ(d.deleted[0].owner, std::string("\3old\7example\4test\0", 18));
    ASSERT_EQ(d.added.size(), 1u);
    EXPECT_EQ(d.added[0].owner, std::string("\3new\7example\4test\0", 18));
    // The history carries on from version to version...
    auto v3 = load(3, "new A 192.0.2.10\nnew 30 A 192.0.2.11\n");
    record_history(*v3, *v2);
    ASSERT_EQ(v3->history.size(), 2u);
    EXPECT_EQ(v3->history[1]->from_serial, 2u);
    EXPECT_EQ(v3->history[1]->added.size(), 2u);  // a TTL change is a new record set
    EXPECT_EQ(v3->history[1]->deleted.size(), 1u);
    // ... and ends where a serial does not go forward, or with too many changes.
    auto same = load(3, "");
    record_history(*same, *v3);
    EXPECT_TRUE(same->history.empty());
    auto v4 = load(4, "a A 192.0.2.20\nb A 192.0.2.21\n");
    record_history(*v4, *v3, 16, 2);
    EXPECT_TRUE(v4->history.empty());
    record_history(*v4, *v3, 1);
    ASSERT_EQ(v4->history.size(), 1u);  // at most max_versions steps
    EXPECT_EQ(v4->history[0]->from_serial, 3u);
}
