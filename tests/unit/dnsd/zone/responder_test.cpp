// The responder end to end in process, decoded by ldns (not by our reader).
#include "dnsd/zone/responder.hpp"

#include <gtest/gtest.h>
#include <ldns/ldns.h>

#include <cstring>
#include <memory>
#include <vector>

#include "dnsd/zone/dynamic_answer.hpp"
#include "dnsd/zone/zone_loader.hpp"

using namespace signpost::dnsd;

namespace {

const std::string kZone = std::string(SIGNPOST_SOURCE_DIR) + "/tests/system/data/test.zone";

struct Fixture : ::testing::Test {
    ZoneSet zones;
    WorkerStats stats;
    ResponderOptions opts;
    void SetUp() override {
        auto r = load_zone_file("example.test", kZone);
        ASSERT_TRUE(r.zone) << r.error;
        zone = r.zone;
        zones.add(r.zone);
    }
    std::shared_ptr<Zone> zone;

    // Asks through our parser and responder; returns ldns' reading of the answer.
    ldns_pkt* ask(const char* name, ldns_rr_type t, std::size_t* len_out = nullptr) {
        ldns_pkt* query = nullptr;
        EXPECT_EQ(ldns_pkt_query_new_frm_str(&query, name, t, LDNS_RR_CLASS_IN, LDNS_RD),
                  LDNS_STATUS_OK);
        ldns_pkt_set_id(query, 4242);
        std::uint8_t* wire = nullptr;
        std::size_t wlen = 0;
        ldns_pkt2wire(&wire, query, &wlen);
        ldns_pkt_free(query);
        Query q;
        auto st = parse_query(std::span(wire, wlen), q);
        std::uint8_t out[65535];
        auto src = *signpost::common::IpAddress::parse("192.0.2.1");
        std::size_t n = respond(q, st, src, Transport::kUdp, {zones, opts, stats}, out);
        std::free(wire);
        if (len_out) *len_out = n;
        ldns_pkt* resp = nullptr;
        EXPECT_EQ(ldns_wire2pkt(&resp, out, n), LDNS_STATUS_OK);
        return resp;
    }
};

std::string rr_text(ldns_rr* rr) {
    char* s = ldns_rr2str(rr);
    std::string out(s);
    std::free(s);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

}  // namespace

TEST_F(Fixture, AnswerIsAuthoritativeWithCompressedOwner) {
    std::size_t len = 0;
    ldns_pkt* p = ask("www.example.test.", LDNS_RR_TYPE_A, &len);
    EXPECT_TRUE(ldns_pkt_aa(p));
    EXPECT_FALSE(ldns_pkt_ra(p));
    EXPECT_EQ(ldns_pkt_id(p), 4242);
    ASSERT_EQ(ldns_pkt_ancount(p), 1);
    EXPECT_EQ(rr_text(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
              "www.example.test.\t3600\tIN\tA\t192.0.2.80");
    EXPECT_EQ(len,
              12u + 22u + 16u);  // header, question, and an answer whose owner is a 2-byte pointer
    ldns_pkt_free(p);
}

TEST_F(Fixture, NegativeAnswers) {
    ldns_pkt* p = ask("nope.example.test.", LDNS_RR_TYPE_A);
    EXPECT_EQ(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
    ASSERT_EQ(ldns_pkt_nscount(p), 1);
    EXPECT_EQ(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_authority(p), 0)), 300u);
    ldns_pkt_free(p);
    p = ask("ent.example.test.", LDNS_RR_TYPE_A);
    EXPECT_EQ(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
    EXPECT_EQ(ldns_pkt_ancount(p), 0);
    ldns_pkt_free(p);
}

TEST_F(Fixture, SoaRdataNamesSurviveCompression) {
    ldns_pkt* p = ask("example.test.", LDNS_RR_TYPE_SOA);
    ASSERT_EQ(ldns_pkt_ancount(p), 1);
    EXPECT_EQ(rr_text(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
              "example.test.\t3600\tIN\tSOA\tns1.example.test. hostmaster.example.test. 2026112301 "
              "7200 900 "
              "1209600 300");
    ldns_pkt_free(p);
}

namespace {
// A stand-in for a redirect: answers A with an address derived from the client.
class EchoClient : public DynamicAnswer {
  public:
    unsigned answer(DynamicContext& ctx, std::uint16_t qtype, const Owner& owner,
                    Writer& w) const override {
        if (qtype != type::A || !ctx.source.is_v4()) return 0;
        owner.write(w);
        w.u16(type::A);
        w.u16(klass::IN);
        w.u32(20);
        w.u16(4);
        w.bytes(ctx.source.bytes(), 4);
        ctx.ecs_scope = 24;
        return 1;
    }
};
}  // namespace

TEST_F(Fixture, DynamicNamesComputeTheirAnswerPerQuery) {
    zone->nodes[std::string("\4echo\7example\4test\0", 19)].dynamic =
        std::make_shared<EchoClient>();
    ldns_pkt* p = ask("echo.example.test.", LDNS_RR_TYPE_A);
    ASSERT_EQ(ldns_pkt_ancount(p), 1);
    EXPECT_EQ(rr_text(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
              "echo.example.test.\t20\tIN\tA\t192.0.2.1");
    ldns_pkt_free(p);
    p = ask("echo.example.test.", LDNS_RR_TYPE_AAAA);  // nothing for this type: NODATA
    EXPECT_EQ(ldns_pkt_ancount(p), 0);
    EXPECT_EQ(ldns_pkt_nscount(p), 1);
    ldns_pkt_free(p);
    // Reached through a CNAME, the dynamic answer is owned by the CNAME's target.
    zone->nodes[std::string("\5video\7example\4test\0", 20)].dynamic =
        std::make_shared<EchoClient>();
    p = ask("tv.example.test.", LDNS_RR_TYPE_A);
    ASSERT_EQ(ldns_pkt_ancount(p), 2);
    EXPECT_EQ(rr_text(ldns_rr_list_rr(ldns_pkt_answer(p), 0)),
              "tv.example.test.\t3600\tIN\tCNAME\tvideo.example.test.");
    EXPECT_EQ(rr_text(ldns_rr_list_rr(ldns_pkt_answer(p), 1)),
              "video.example.test.\t20\tIN\tA\t192.0.2.1");
    ldns_pkt_free(p);
    p = ask("tv.example.test.", LDNS_RR_TYPE_AAAA);  // the CNAME, then NODATA at its target
    EXPECT_EQ(ldns_pkt_ancount(p), 1);
    EXPECT_EQ(ldns_pkt_nscount(p), 1);
    ldns_pkt_free(p);
}

namespace {
// www.example.test A with an OPT record whose options are `options` (raw).
std::vector<std::uint8_t> query_with_options(const std::vector<std::uint8_t>& options) {
    std::vector<std::uint8_t> q = {0x10, 0x92, 0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
    for (const char* label : {"www", "example", "test"}) {
        q.push_back(static_cast<std::uint8_t>(std::strlen(label)));
        q.insert(q.end(), label, label + std::strlen(label));
    }
    q.insert(q.end(), {0, 0, 1, 0, 1});                     // root, type A, class IN
    q.insert(q.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0});  // OPT, 1232, version 0
    q.push_back(static_cast<std::uint8_t>(options.size() >> 8));
    q.push_back(static_cast<std::uint8_t>(options.size()));
    q.insert(q.end(), options.begin(), options.end());
    return q;
}

// The response's OPT rdata, read by ldns.
std::vector<std::uint8_t> opt_rdata(const std::uint8_t* wire, std::size_t n) {
    ldns_pkt* p = nullptr;
    EXPECT_EQ(ldns_wire2pkt(&p, wire, n), LDNS_STATUS_OK);
    std::vector<std::uint8_t> out;
    if (p && ldns_pkt_edns(p) && ldns_pkt_edns_data(p)) {
        const ldns_rdf* d = ldns_pkt_edns_data(p);
        out.assign(ldns_rdf_data(d), ldns_rdf_data(d) + ldns_rdf_size(d));
    }
    EXPECT_TRUE(p && ldns_pkt_edns(p));
    if (p) ldns_pkt_free(p);
    return out;
}
}  // namespace

TEST_F(Fixture, NsidSentOnlyWhenAskedAndConfigured) {
    Query q;  // reused, as a worker reuses its batch's: nothing may carry over
    auto ask_raw = [&](const std::vector<std::uint8_t>& query) {
        auto st = parse_query(std::span(query.data(), query.size()), q);
        std::uint8_t out[4096];
        auto src = *signpost::common::IpAddress::parse("192.0.2.1");
        const std::size_t n = respond(q, st, src, Transport::kUdp, {zones, opts, stats}, out);
        return opt_rdata(out, n);
    };
    const std::vector<std::uint8_t> nsid_request = {0, 3, 0, 0};
    const std::vector<std::uint8_t> nsid_answer = {0,   3,   0,   8,   'd', 'n',
                                                   's', '1', '.', 'f', 'r', 'a'};
    // Not configured: nothing, asked or not.
    EXPECT_TRUE(ask_raw(query_with_options(nsid_request)).empty());
    opts.nsid = "dns1.fra";
    EXPECT_EQ(ask_raw(query_with_options(nsid_request)), nsid_answer);
    // Not asked: not sent.
    EXPECT_TRUE(ask_raw(query_with_options({})).empty());
    // Data in the request is ignored (RFC 5001 2.1); an unknown option beside it too.
    EXPECT_EQ(ask_raw(query_with_options({0, 3, 0, 2, 'x', 'y', 0xfd, 0xe9, 0, 1, 7})),
              nsid_answer);
    // With ECS: both come back, ECS first (scope 0: static data).
    auto both = ask_raw(query_with_options({0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100, 0, 3, 0, 0}));
    std::vector<std::uint8_t> want = {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100};
    want.insert(want.end(), nsid_answer.begin(), nsid_answer.end());
    EXPECT_EQ(both, want);
}
