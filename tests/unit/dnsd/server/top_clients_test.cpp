#include "dnsd/server/top_clients.hpp"

#include <gtest/gtest.h>

namespace signpost::dnsd {
namespace {

using common::Family;
using common::GeoFactsView;
using common::GeoTable;
using common::IpAddress;
using common::TableBuilder;
using namespace std::chrono_literals;

std::shared_ptr<const GeoTable> table() {
    // 10.0.0.0/24 DE AS3320 "Telekom", 10.0.1.0/24 FR AS3215 "Orange", the rest unknown.
    TableBuilder b;
    GeoFactsView de;
    de.found = true;
    de.country = "DE";
    de.continent = "EU";
    de.asn = 3320;
    de.as_org = "Telekom";
    GeoFactsView fr = de;
    fr.country = "FR";
    fr.asn = 3215;
    fr.as_org = "Orange";
    const auto none = b.intern(GeoFactsView{});
    b.add(Family::kV4, 0, none);
    b.add(Family::kV4, 0x0a000000u, b.intern(de));
    b.add(Family::kV4, 0x0a000100u, b.intern(fr));
    b.add(Family::kV4, 0x0a000200u, none);
    std::string error;
    auto t = GeoTable::from_bytes(b.finish(1, 0), error);
    EXPECT_TRUE(t) << error;
    return t;
}

void answer(Stats& s, unsigned worker, const char* addr, int times, bool sampled = true) {
    for (int i = 0; i < times; ++i) {
        bump(s.worker(worker).redirect_answers);
        if (sampled) s.worker(worker).samples->push(*IpAddress::parse(addr));
    }
}

TEST(TopClients, RanksAsnsAndCountriesWeightedByTheAnswersTheyStandFor) {
    Stats stats(2);
    stats.sample_clients();
    const auto t = table();
    TopClients top(300s, 10s);
    auto now = TopClients::Clock::time_point{} + 1000s;
    answer(stats, 0, "10.0.0.1", 30);
    answer(stats, 0, "10.0.1.9", 10);
    answer(stats, 1, "192.0.2.1", 5);
    // Worker 1 answered 95 more than it sampled: its 5 samples stand for 100.
    for (int i = 0; i < 95; ++i) bump(stats.worker(1).redirect_answers);
    top.collect(stats, 2, t.get(), now);
    const auto r = top.top(10);
    EXPECT_EQ(r.samples, 45u);
    EXPECT_DOUBLE_EQ(r.queries, 140);
    ASSERT_EQ(r.asns.size(), 3u);
    EXPECT_EQ(r.asns[0].key, "AS0");
    EXPECT_DOUBLE_EQ(r.asns[0].queries, 100);
    EXPECT_EQ(r.asns[1].key, "AS3320");
    EXPECT_EQ(r.asns[1].name, "Telekom");
    EXPECT_DOUBLE_EQ(r.asns[1].queries, 30);
    EXPECT_EQ(r.asns[2].key, "AS3215");
    ASSERT_EQ(r.countries.size(), 3u);
    EXPECT_EQ(r.countries[0].key, "--");
    EXPECT_EQ(r.countries[1].key, "DE");
    EXPECT_EQ(r.countries[2].key, "FR");
    EXPECT_EQ(top.top(1).asns.size(), 1u);
    // The metrics: ranks as labels, the estimate as the value.
    std::string out;
    top.render(out);
    EXPECT_NE(
        out.find("signpost_dnsd_top_asn_queries{rank=\"2\",asn=\"AS3320\",as_org=\"Telekom\"} "
                 "30\n"),
        std::string::npos)
        << out;
    EXPECT_NE(out.find("signpost_dnsd_top_country_queries{rank=\"2\",country=\"DE\"} 30\n"),
              std::string::npos);
    const std::string j = top.json(2);
    EXPECT_NE(j.find("\"asns\":[{\"key\":\"AS0\""), std::string::npos) << j;
    EXPECT_NE(j.find("AS3320"), std::string::npos);
    EXPECT_EQ(j.find("AS3215"), std::string::npos);  // only the top 2
}

TEST(TopClients, TheWindowSlidesAndOldBucketsLeave) {
    Stats stats(1);
    stats.sample_clients();
    const auto t = table();
    TopClients top(30s, 10s);
    auto now = TopClients::Clock::time_point{} + 1000s;
    answer(stats, 0, "10.0.0.1", 7);
    top.collect(stats, 1, t.get(), now);
    answer(stats, 0, "10.0.1.1", 3);
    top.collect(stats, 1, t.get(), now += 10s);
    EXPECT_DOUBLE_EQ(top.top(10).queries, 10);
    top.collect(stats, 1, t.get(), now += 10s);
    EXPECT_EQ(top.top(10).asns[0].key, "AS3320");
    // 30 s on, the first bucket has left the window: only FR's 3 remain.
    top.collect(stats, 1, t.get(), now += 10s);
    const auto r = top.top(10);
    EXPECT_DOUBLE_EQ(r.queries, 3);
    ASSERT_EQ(r.asns.size(), 1u);
    EXPECT_EQ(r.asns[0].key, "AS3215");
    EXPECT_EQ(r.window_s, 30);
}

TEST(TopClients, WithoutATableEveryClientIsUnknown) {
    Stats stats(1);
    stats.sample_clients();
    TopClients top;
    answer(stats, 0, "10.0.0.1", 4);
    top.collect(stats, 1, nullptr, TopClients::Clock::time_point{} + 5s);
    const auto r = top.top(10);
    ASSERT_EQ(r.asns.size(), 1u);
    EXPECT_EQ(r.asns[0].key, "AS0");
    EXPECT_DOUBLE_EQ(r.asns[0].queries, 4);
}

TEST(ClientSamples, AFullRingDropsAndDrainingMakesRoom) {
    ClientSamples s;
    const auto a = *IpAddress::parse("192.0.2.1");
    for (std::uint32_t i = 0; i < ClientSamples::kCapacity + 10; ++i) s.push(a);
    std::uint64_t seen = 0;
    EXPECT_EQ(s.drain([&](const IpAddress& x) { seen += x == a; }), ClientSamples::kCapacity);
    EXPECT_EQ(seen, ClientSamples::kCapacity);
    s.push(a);
    EXPECT_EQ(s.drain([](const IpAddress&) {}), 1u);
}

}  // namespace
}  // namespace signpost::dnsd
