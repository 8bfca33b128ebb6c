// The batch path with its answer cache: a cached answer must be the very
// answer the responder gives (but for the ID) and count the same; redirect
// answers are never cached; a new snapshot empties the cache (and the
// memory of the last computed name).
#include "dnsd/server/batch.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/geo_table.hpp"
#include "dnsd/server/config.hpp"
#include "dnsd/server/serving_state.hpp"
#include "dnsd/zone/zone_loader.hpp"

#include <ldns/ldns.h>  // after the C++ headers

using namespace signpost::dnsd;

namespace {

const std::string kZone = std::string(SIGNPOST_SOURCE_DIR) + "/tests/system/data/test.zone";

struct Ask {
    const char* name;
    ldns_rr_type type;
    int edns = 1232;  // 0: no OPT
    bool do_bit = false;
    const char* ecs = nullptr;  // "a.b.c.d/len"
    ldns_rr_class klass = LDNS_RR_CLASS_IN;
};

std::vector<std::uint8_t> query_wire(const Ask& a, std::uint16_t id) {
    ldns_pkt* q = nullptr;
    EXPECT_EQ(ldns_pkt_query_new_frm_str(&q, a.name, a.type, a.klass, LDNS_RD), LDNS_STATUS_OK);
    ldns_pkt_set_id(q, id);
    if (a.edns) {
        ldns_pkt_set_edns_udp_size(q, static_cast<std::uint16_t>(a.edns));
        if (a.do_bit) ldns_pkt_set_edns_do(q, true);
    }
    std::uint8_t* w = nullptr;
    std::size_t n = 0;
    ldns_pkt2wire(&w, q, &n);
    std::vector<std::uint8_t> v(w, w + n);
    std::free(w);
    ldns_pkt_free(q);
    if (a.ecs) {
        // Append an ECS option to the OPT record (the last 11 octets, RDLEN 0).
        const auto p = *signpost::common::Prefix::parse(a.ecs);
        const unsigned octets = (p.length() + 7) / 8;
        const std::uint8_t opt[] = {0,
                                    8,
                                    0,
                                    static_cast<std::uint8_t>(4 + octets),
                                    0,
                                    static_cast<std::uint8_t>(p.address().is_v4() ? 1 : 2),
                                    static_cast<std::uint8_t>(p.length()),
                                    0};
        v.insert(v.end(), opt, opt + sizeof opt);
        v.insert(v.end(), p.address().bytes(), p.address().bytes() + octets);
        v[v.size() - sizeof opt - octets - 1] = static_cast<std::uint8_t>(sizeof opt + octets);
    }
    return v;
}

// A dynamic answer that differs every time: if it were cached, it would repeat.
class Counter : public DynamicAnswer {
  public:
    unsigned answer(DynamicContext&, std::uint16_t qtype, const Owner& owner,
                    Writer& w) const override {
        if (qtype != type::A) return 0;
        owner.write(w);
        w.u16(type::A);
        w.u16(klass::IN);
        w.u32(5);
        w.u16(4);
        w.u32(0xc0000200u + ++n_);
        return 1;
    }

  private:
    mutable std::uint32_t n_ = 0;
};

struct BatchCache : ::testing::Test {
    std::shared_ptr<ServingState> state = std::make_shared<ServingState>();
    WorkerStats stats;
    std::unique_ptr<Batch> batch = std::make_unique<Batch>();
    BatchAnswerer answerer{stats};

    void SetUp() override {
        auto r = load_zone_file("example.test", kZone);
        ASSERT_TRUE(r.zone) << r.error;
        r.zone->nodes[std::string("\4ctr1\7example\4test\0", 19)].dynamic =
            std::make_shared<Counter>();
        state->zones.add(r.zone);
        state->edges = std::make_shared<EdgeSet>();
        state->generation = 1;
    }

    // Answers the queries in one batch; returns the answers.
    std::vector<std::vector<std::uint8_t>> run(const std::vector<std::vector<std::uint8_t>>& qs) {
        for (std::size_t i = 0; i < qs.size(); ++i) {
            std::memcpy(batch->in[i], qs[i].data(), qs[i].size());
            batch->in_len[i] = qs[i].size();
            batch->oversize[i] = false;
            batch->source[i] = *signpost::common::IpAddress::parse("192.0.2.7");
        }
        answerer.answer(*batch, static_cast<unsigned>(qs.size()), state, nullptr);
        std::vector<std::vector<std::uint8_t>> out;
        for (std::size_t i = 0; i < qs.size(); ++i)
            out.emplace_back(batch->out[i], batch->out[i] + batch->out_len[i]);
        return out;
    }
    std::vector<std::uint64_t> counters() const {
        std::vector<std::uint64_t> v;
        for (auto m : kWorkerCounters) v.push_back((stats.*m).load());
        return v;
    }
};

}  // namespace

TEST_F(BatchCache, CachedAnswersAreTheResponderAnswersAndCountTheSame) {
    const std::vector<Ask> asks = {
        {"www.example.test.", LDNS_RR_TYPE_A},
        {"WwW.ExAmPlE.tEsT.", LDNS_RR_TYPE_A},  // case preserved in the question
        {"www.example.test.", LDNS_RR_TYPE_A, 0},
        {"www.example.test.", LDNS_RR_TYPE_A, 4096, true},
        {"www.example.test.", LDNS_RR_TYPE_A, 1232, false, "198.51.100.0/24"},
        {"nope.example.test.", LDNS_RR_TYPE_A},  // NXDOMAIN
        {"ent.example.test.", LDNS_RR_TYPE_A},   // NODATA
        {"example.test.", LDNS_RR_TYPE_SOA},
        {"example.test.", LDNS_RR_TYPE_ANY},        // RFC 8482
        {"x.wild.example.test.", LDNS_RR_TYPE_A},   // wildcard
        {"a.child.example.test.", LDNS_RR_TYPE_A},  // referral with glue
        {"tv.example.test.", LDNS_RR_TYPE_A},       // CNAME to a name without data
        {"example.org.", LDNS_RR_TYPE_A},           // REFUSED
        {"www.example.test.", LDNS_RR_TYPE_A, 1232, false, nullptr, LDNS_RR_CLASS_CH},
        {"example.test.", LDNS_RR_TYPE_TXT, 512},
    };
    std::vector<std::vector<std::uint8_t>> first, second;
    for (std::size_t i = 0; i < asks.size(); ++i) first.push_back(query_wire(asks[i], 100 + i));
    for (std::size_t i = 0; i < asks.size(); ++i) second.push_back(query_wire(asks[i], 9000 + i));
    const auto c0 = counters();
    const auto a1 = run(first);
    const auto c1 = counters();
    const auto a2 = run(second);
    const auto c2 = counters();
    for (std::size_t i = 0; i < asks.size(); ++i) {
        ASSERT_GE(a1[i].size(), 12u) << asks[i].name;
        ASSERT_EQ(a2[i].size(), a1[i].size()) << asks[i].name;
        EXPECT_EQ(a2[i][0], second[i][0]);
        EXPECT_EQ(a2[i][1], second[i][1]);
        EXPECT_TRUE(std::equal(a1[i].begin() + 2, a1[i].end(), a2[i].begin() + 2)) << asks[i].name;
    }
    const std::size_t hits = std::find(std::begin(kWorkerCounters), std::end(kWorkerCounters),
                                       &WorkerStats::answer_cache_hits) -
                             std::begin(kWorkerCounters);
    for (std::size_t k = 0; k < c0.size(); ++k) {
        if (k == hits) continue;
        EXPECT_EQ(c2[k] - c1[k], c1[k] - c0[k]) << "counter " << k;
    }
    for (std::size_t i = 0; i < asks.size(); ++i) {
        const auto before = stats.answer_cache_hits.load();
        run({query_wire(asks[i], 7)});
        EXPECT_EQ(stats.answer_cache_hits.load() - before, 1u) << asks[i].name;
    }
    EXPECT_EQ(c1[hits] - c0[hits], 0u);
    EXPECT_EQ(c2[hits] - c1[hits], asks.size());  // every one came from the cache
}

TEST_F(BatchCache, RedirectAnswersAreNeverCached) {
    const Ask a{"ctr1.example.test.", LDNS_RR_TYPE_A};
    const auto a1 = run({query_wire(a, 1)});
    const auto a2 = run({query_wire(a, 1)});
    ASSERT_EQ(a1[0].size(), a2[0].size());
    EXPECT_NE(a1[0], a2[0]);  // the counter moved: answered afresh
    EXPECT_EQ(stats.answer_cache_hits.load(), 0u);
}

TEST_F(BatchCache, ANewSnapshotEmptiesTheCache) {
    const Ask a{"www.example.test.", LDNS_RR_TYPE_A};
    const auto a1 = run({query_wire(a, 1)});
    // Same generation, zone edited in place (never done for real): still cached.
    auto next = std::make_shared<ServingState>();
    auto r = load_zone_file("example.test",
                            std::string(SIGNPOST_SOURCE_DIR) + "/tests/system/data/test.zone");
    ASSERT_TRUE(r.zone);
    r.zone->nodes.erase(std::string("\3www\7example\4test\0", 18));
    next->zones.add(r.zone);
    next->edges = state->edges;
    next->generation = 2;
    state = next;
    const auto a2 = run({query_wire(a, 1)});
    EXPECT_NE(a1[0], a2[0]);  // www is gone: NXDOMAIN now, not the cached answer
    EXPECT_EQ(a2[0][3] & 0xf, 3);
}

// A worker remembers the last name it found to be computed, and answers
// that name again without the zone lookup or the answer cache: every query
// for it must still be answered afresh (in any letter case, between other
// names), other names and classes as before, and a new state must not be
// answered from what the old one held (here the old state is kept alive, so
// a stale memory would answer, not crash).
TEST_F(BatchCache, TheLastComputedNameIsAskedAgainOnlyInItsOwnState) {
    const auto rcode = [](const std::vector<std::uint8_t>& a) { return a[3] & 0xf; };
    const auto ancount = [](const std::vector<std::uint8_t>& a) { return a[6] << 8 | a[7]; };
    const auto last_octet = [](const std::vector<std::uint8_t>& a) { return a.back(); };
    const auto a1 = run(
        {query_wire({"ctr1.example.test.", LDNS_RR_TYPE_A, 0}, 1),
         query_wire({"www.example.test.", LDNS_RR_TYPE_A, 0}, 2),
         query_wire({"CTR1.Example.TEST.", LDNS_RR_TYPE_A, 0}, 3),
         query_wire({"ctr1.example.test.", LDNS_RR_TYPE_A, 0, false, nullptr, LDNS_RR_CLASS_CH}, 4),
         query_wire({"ctr1.example.test.", LDNS_RR_TYPE_AAAA, 0}, 5),
         query_wire({"ctr1.example.test.", LDNS_RR_TYPE_A, 0}, 6)});
    ASSERT_EQ(a1.size(), 6u);
    EXPECT_EQ(ancount(a1[0]), 1);
    EXPECT_EQ(ancount(a1[1]), 1);  // www: its static A
    EXPECT_EQ(ancount(a1[2]), 1);
    EXPECT_EQ(a1[2][13 + 0], 'C');  // the question as the client wrote it
    EXPECT_EQ(rcode(a1[3]), 5);     // class CH: REFUSED, as for any name
    EXPECT_EQ(ancount(a1[4]), 0);   // the computed name has no AAAA: NODATA with the SOA
    EXPECT_EQ(rcode(a1[4]), 0);
    EXPECT_EQ(a1[4][10] << 8 | a1[4][11], 0);
    EXPECT_EQ(a1[4][8] << 8 | a1[4][9], 1);
    EXPECT_EQ(ancount(a1[5]), 1);
    // Counted afresh each time: 1, 2, 3 (the CH and AAAA queries wrote none).
    EXPECT_EQ(last_octet(a1[0]) + 1, last_octet(a1[2]));
    EXPECT_EQ(last_octet(a1[2]) + 1, last_octet(a1[5]));
    EXPECT_EQ(stats.answer_cache_hits.load(), 0u);
    // Names of the same length that differ from it at the start, in the
    // middle, at the end: each answered for itself.
    const auto a3 = run({query_wire({"ctr1.example.test.", LDNS_RR_TYPE_A, 0}, 9),
                         query_wire({"xtr1.example.test.", LDNS_RR_TYPE_A, 0}, 10),
                         query_wire({"ctr1.exbmple.test.", LDNS_RR_TYPE_A, 0}, 11),
                         query_wire({"ctr1.example.tesx.", LDNS_RR_TYPE_A, 0}, 12),
                         query_wire({"ctr9.example.test.", LDNS_RR_TYPE_A, 0}, 13)});
    EXPECT_EQ(ancount(a3[0]), 1);
    EXPECT_EQ(rcode(a3[1]), 3);  // NXDOMAIN
    EXPECT_EQ(rcode(a3[2]), 5);  // REFUSED: not a zone served here
    EXPECT_EQ(rcode(a3[3]), 5);
    EXPECT_EQ(rcode(a3[4]), 3);

    // The next state has no such name (the old one stays alive here).
    const auto old_state = state;
    auto next = std::make_shared<ServingState>();
    auto r = load_zone_file("example.test", kZone);
    ASSERT_TRUE(r.zone);
    next->zones.add(r.zone);
    next->edges = state->edges;
    next->generation = 2;
    state = next;
    const auto a2 = run({query_wire({"ctr1.example.test.", LDNS_RR_TYPE_A, 0}, 7)});
    EXPECT_EQ(rcode(a2[0]), 3);  // NXDOMAIN
    EXPECT_EQ(ancount(a2[0]), 0);
    // And over TCP, one pipeline through both states.
    QueryPipeline tcp(stats);
    std::vector<std::uint8_t> buf(65535);
    const auto src = *signpost::common::IpAddress::parse("192.0.2.7");
    const auto q = query_wire({"ctr1.example.test.", LDNS_RR_TYPE_A, 0}, 8);
    tcp.begin(old_state, nullptr);
    ASSERT_GT(tcp.answer_message(q, src, Transport::kTcp, buf), 12u);
    EXPECT_EQ(buf[6] << 8 | buf[7], 1);
    tcp.end();
    tcp.begin(state, nullptr);
    ASSERT_GT(tcp.answer_message(q, src, Transport::kTcp, buf), 12u);
    EXPECT_EQ(buf[3] & 0xf, 3);
    tcp.end();
}

// UDP and TCP answer through the same pipeline: the same bytes for the same
// query wherever the answer fits, and over TCP never the truncated UDP answer
// the cache holds.
TEST_F(BatchCache, TcpAnswersAreTheUdpAnswersUntruncated) {
    const std::vector<Ask> asks = {
        {"www.example.test.", LDNS_RR_TYPE_A},
        {"www.example.test.", LDNS_RR_TYPE_A, 1232, false, "198.51.100.0/24"},
        {"nope.example.test.", LDNS_RR_TYPE_A},
        {"example.test.", LDNS_RR_TYPE_ANY},
        {"a.child.example.test.", LDNS_RR_TYPE_A},
        {"ctr1.example.test.", LDNS_RR_TYPE_AAAA},  // dynamic name, no AAAA: NODATA
        {"example.org.", LDNS_RR_TYPE_A},
    };
    QueryPipeline tcp(stats);
    std::vector<std::uint8_t> buf(65535);
    const auto src = *signpost::common::IpAddress::parse("192.0.2.7");
    for (const auto& a : asks) {
        const auto q = query_wire(a, 42);
        const auto udp = run({q});
        tcp.begin(state, nullptr);
        const std::size_t n = tcp.answer_message(q, src, Transport::kTcp, buf);
        ASSERT_EQ(std::vector<std::uint8_t>(buf.begin(), buf.begin() + n), udp[0]) << a.name;
    }
    // An answer larger than the client's UDP size: TC=1 over UDP (and cached
    // so), whole over TCP, through one pipeline that answered it over UDP.
    const auto q = query_wire({"big.example.test.", LDNS_RR_TYPE_TXT, 512}, 43);
    QueryPipeline both(stats);
    both.begin(state, nullptr);
    std::vector<std::uint8_t> udp(4096);
    for (int i = 0; i < 2; ++i) {
        const auto hits = stats.answer_cache_hits.load();
        ASSERT_GT(both.answer_message(q, src, Transport::kUdp, udp), 12u);
        EXPECT_EQ(stats.answer_cache_hits.load() - hits, i == 0 ? 0u : 1u);
    }
    ASSERT_TRUE(udp[2] & 0x02) << "the test zone's big TXT must not fit 512 octets";
    const auto hits = stats.answer_cache_hits.load();
    const std::size_t n = both.answer_message(q, src, Transport::kTcp, buf);
    EXPECT_EQ(stats.answer_cache_hits.load(), hits);
    EXPECT_FALSE(buf[2] & 0x02);
    EXPECT_GT(n, 512u);
}

// A worker lets go of the serving state once its batch is answered: an idle
// worker must not keep a replaced state (zones, compiled maps) alive.
TEST_F(BatchCache, AnsweredBatchDoesNotPinTheState) {
    run({query_wire({"www.example.test.", LDNS_RR_TYPE_A}, 1)});
    EXPECT_EQ(state.use_count(), 1);
    QueryPipeline tcp(stats);
    tcp.begin(state, nullptr);
    EXPECT_EQ(state.use_count(), 2);
    tcp.end();
    EXPECT_EQ(state.use_count(), 1);
}

// A batch's decision-range lookups are made together, before any of its
// queries is answered: every answer must be the one the same query gets
// answered alone (which looks up its own), with two redirect names on two
// maps in one batch (a mix-up of maps or of places in the batch shows), IPv4
// and IPv6 clients, queries without ECS and queries that are not well formed
// among them, and runs of queries from one address (which share a search).
TEST(BatchLookups, EveryAnswerIsTheAnswerTheQueryGetsAlone) {
    using signpost::common::Family;
    using signpost::common::GeoFactsView;
    using signpost::common::GeoTable;
    using signpost::common::IpAddress;
    using signpost::common::TableBuilder;
    TableBuilder b;
    auto fact = [&](const char* cc, const char* cont) {
        GeoFactsView v;
        v.found = true;
        v.country = cc;
        v.continent = cont;
        return b.intern(v);
    };
    const std::uint32_t none = b.intern(GeoFactsView{}), de = fact("DE", "EU"),
                        fr = fact("FR", "EU"), us = fact("US", "NA");
    auto at = [](const char* a) { return signpost::common::address_value(*IpAddress::parse(a)); };
    b.add(Family::kV4, 0, none);
    b.add(Family::kV4, at("10.0.0.0"), de);
    b.add(Family::kV4, at("10.0.1.0"), fr);
    b.add(Family::kV4, at("10.0.2.0"), us);
    b.add(Family::kV4, at("10.0.2.128"), de);
    b.add(Family::kV4, at("10.0.3.0"), none);
    b.add(Family::kV6, 0, none);
    b.add(Family::kV6, at("2001:db8::"), de);
    b.add(Family::kV6, at("2001:db8:1::"), us);
    b.add(Family::kV6, at("2001:db8:1:0:8000::"), fr);
    b.add(Family::kV6, at("2001:db8:2::"), none);
    std::string error;
    std::shared_ptr<const GeoTable> table = GeoTable::from_bytes(b.finish(1, 0), error);
    ASSERT_TRUE(table) << error;

    const std::string config_path =
        testing::TempDir() + "/batch_test.lookups." + std::to_string(getpid()) + ".toml";
    std::ofstream(config_path) << "[[zones]]\nname = \"example.test\"\nfile = \"" << kZone
                               << "\"\n"
                                  "[geoip]\nsocket = \"/nonexistent/geoipd.sock\"\n";
    {
        std::ofstream c(config_path, std::ios::app);
        for (int n = 1; n <= 7; ++n)
            c << "[[nodes]]\nname = \"n" << n << "\"\nipv4 = [\"198.51.100." << n
              << "\"]\nipv6 = [\"2001:db8:ff::" << n << "\"]\n";
        c << "[maps.a]\ndefault = [\"n4\"]\ncountry = { DE = [\"n1\"], FR = [\"n2\"], US = "
             "[\"n3\"] }\n"
             "[maps.b]\ndefault = [\"n7\"]\ncontinent = { EU = [\"n5\"], NA = [\"n6\"] }\n"
             "[[redirects]]\nname = \"video.example.test\"\nmap = \"a\"\nttl = 30\n"
             "fallback = [\"n4\"]\n"
             "[[redirects]]\nname = \"img.example.test\"\nmap = \"b\"\nttl = 30\n"
             "fallback = [\"n7\"]\n";
    }
    auto config = load_config(config_path, error);
    std::remove(config_path.c_str());
    ASSERT_TRUE(config) << error;
    std::vector<std::string> warnings;
    const std::shared_ptr<const ServingState> state =
        build_state(*config, 1, error, warnings, table);
    ASSERT_TRUE(state) << error;

    const char* subnets[] = {"10.0.0.0/24",
                             "10.0.1.0/24",
                             "10.0.2.0/24",
                             "10.0.2.128/25",
                             "10.0.3.0/24",
                             "10.0.1.77/32",
                             "2001:db8::/48",
                             "2001:db8:1::/56",
                             "2001:db8:1::/48",
                             "2001:db8:1:0:8000::/65",
                             "2001:db8:2::/48",
                             "192.0.2.0/24",
                             nullptr};  // nullptr: no ECS, the source address decides
    const char* sources[] = {"10.0.1.9", "2001:db8:1::5", "203.0.113.1"};
    std::vector<std::vector<std::uint8_t>> qs;
    std::vector<IpAddress> from;
    // Queries come in pairs from one subnet (or source), which share one
    // search (a malformed query between them is passed over).
    std::vector<std::string> key;  // per query: the address its search is for ("": none)
    for (std::size_t i = 0; qs.size() < Batch::kSize; ++i) {
        const std::size_t s = (i / 2) % std::size(subnets);
        const IpAddress source = *IpAddress::parse(sources[(i / 2) % std::size(sources)]);
        key.push_back(subnets[s]
                          ? signpost::common::Prefix::parse(subnets[s])->address().to_string()
                          : source.to_string());
        if (i % 11 == 5) {  // not well formed: a question cut short
            auto q =
                query_wire({"video.example.test.", LDNS_RR_TYPE_A}, static_cast<std::uint16_t>(i));
            q.resize(20);
            qs.push_back(q);
            key.back().clear();
        } else if (i % 13 == 7) {  // a static name
            qs.push_back(query_wire({"www.example.test.", LDNS_RR_TYPE_A, 1232, false, subnets[s]},
                                    static_cast<std::uint16_t>(i)));
        } else {
            qs.push_back(
                query_wire({i % 2 ? "video.example.test." : "img.example.test.",
                            i % 3 ? LDNS_RR_TYPE_A : LDNS_RR_TYPE_AAAA, 1232, false, subnets[s]},
                           static_cast<std::uint16_t>(i)));
        }
        from.push_back(source);
    }
    WorkerStats stats;
    BatchAnswerer answerer(stats);
    auto batch = std::make_unique<Batch>();
    for (std::size_t i = 0; i < qs.size(); ++i) {
        std::memcpy(batch->in[i], qs[i].data(), qs[i].size());
        batch->in_len[i] = qs[i].size();
        batch->oversize[i] = false;
        batch->source[i] = from[i];
    }
    answerer.answer(*batch, Batch::kSize, state, nullptr);
    std::size_t well_formed = 0, searches = 0;
    std::string last;
    for (std::size_t i = 0; i < qs.size(); ++i) {
        if (batch->status[i] != ParseStatus::kOk) continue;
        ++well_formed;
        searches += well_formed == 1 || key[i] != last;
        last = key[i];
    }
    ASSERT_LT(searches, well_formed);             // the test has runs to share
    EXPECT_EQ(answerer.lookups(), 2 * searches);  // both maps, a search per run

    WorkerStats alone_stats;
    QueryPipeline alone(alone_stats);
    alone.begin(state, nullptr);
    std::vector<std::uint8_t> out(4096);
    std::set<std::string> addresses;  // in the answers
    for (std::size_t i = 0; i < qs.size(); ++i) {
        const std::size_t n = alone.answer_message(qs[i], from[i], Transport::kUdp, out);
        const std::vector<std::uint8_t> want(out.begin(), out.begin() + n);
        EXPECT_EQ(std::vector<std::uint8_t>(batch->out[i], batch->out[i] + batch->out_len[i]), want)
            << "query " << i;
        ldns_pkt* pkt = nullptr;
        if (n > 0 && ldns_wire2pkt(&pkt, want.data(), n) == LDNS_STATUS_OK) {
            ldns_rr_list* an = ldns_pkt_answer(pkt);
            for (std::size_t k = 0; k < ldns_rr_list_rr_count(an); ++k) {
                char* t = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(an, k), 0));
                addresses.insert(t);
                std::free(t);
            }
            ldns_pkt_free(pkt);
        }
    }
    alone.end();
    EXPECT_EQ(stats.redirect_fallback.load(), 0u);
    EXPECT_GT(stats.redirect_answers.load(), 40u);
    // Each map's every entry answered someone, so a mix-up of maps or of
    // places in the batch changes answers (the byte comparison above).
    for (const char* want :
         {"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.5", "198.51.100.6",
          "198.51.100.7", "2001:db8:ff::1", "2001:db8:ff::3", "2001:db8:ff::5", "2001:db8:ff::6"})
        EXPECT_TRUE(addresses.count(want)) << want;
}
