#include "dnsd/wire/query.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace signpost::dnsd;

namespace {
std::vector<std::uint8_t> packet(std::initializer_list<std::uint8_t> header_tail,
                                 std::vector<std::uint8_t> rest) {
    std::vector<std::uint8_t> p = {0xab, 0xcd};
    p.insert(p.end(), header_tail);
    p.insert(p.end(), rest.begin(), rest.end());
    return p;
}
const std::vector<std::uint8_t> kQuestion = {3,   'W', 'w', 'W', 4, 't', 'E',
                                             's', 'T', 0,   0,   1, 0,   1};
std::vector<std::uint8_t> with_opt(std::vector<std::uint8_t> q, std::vector<std::uint8_t> rdata,
                                   std::uint16_t payload = 1232, std::uint32_t ttl = 0) {
    q.insert(q.end(), {0, 0, 41, static_cast<std::uint8_t>(payload >> 8),
                       static_cast<std::uint8_t>(payload), static_cast<std::uint8_t>(ttl >> 24),
                       static_cast<std::uint8_t>(ttl >> 16), static_cast<std::uint8_t>(ttl >> 8),
                       static_cast<std::uint8_t>(ttl), static_cast<std::uint8_t>(rdata.size() >> 8),
                       static_cast<std::uint8_t>(rdata.size())});
    q.insert(q.end(), rdata.begin(), rdata.end());
    return q;
}
}  // namespace

TEST(Query, ParsesQuestionAndLowercasesName) {
    auto p = packet({0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, kQuestion);
    Query q;
    ASSERT_EQ(parse_query(p, q), ParseStatus::kOk);
    EXPECT_EQ(q.id, 0xabcd);
    EXPECT_EQ(q.qtype, 1);
    EXPECT_EQ(q.label_count, 2);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(q.qname), q.qname_len),
              std::string("\3www\4test\0", 10));
    EXPECT_EQ(q.question_len, kQuestion.size());
    EXPECT_EQ(q.question[1], 'W');  // the original case stays in the packet
    EXPECT_FALSE(q.edns);
}

// Lower-casing is ASCII only (RFC 4343): every octet value in labels of
// every length from 1 to 63 (so each place of the eight-octet steps and the
// tail is met), checked against the rule written out one octet at a time.
TEST(Query, LowercasesAsciiLettersOnlyInEveryPosition) {
    for (unsigned len = 1; len <= 63; ++len) {
        for (unsigned first = 0; first < 256; first += len) {
            std::vector<std::uint8_t> name;
            // Labels of `len` while the name stays within 255 octets.
            for (unsigned used = 0; name.size() + len + 2 <= 255;) {
                name.push_back(static_cast<std::uint8_t>(len));
                for (unsigned i = 0; i < len; ++i)
                    name.push_back(static_cast<std::uint8_t>(first + used + i));
                used += len;
            }
            name.push_back(0);
            auto rest = name;
            rest.insert(rest.end(), {0, 1, 0, 1});
            auto p = packet({0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, rest);
            Query q;
            ASSERT_EQ(parse_query(p, q), ParseStatus::kOk) << "label length " << len;
            ASSERT_EQ(q.qname_len, name.size());
            for (std::size_t i = 0; i < name.size(); ++i) {
                const std::uint8_t c = name[i];
                const std::uint8_t want = c >= 'A' && c <= 'Z' ? c + 32 : c;
                ASSERT_EQ(q.qname[i], want) << "octet " << i << " of a name of " << len
                                            << "-octet labels, value " << unsigned{c};
            }
            ASSERT_EQ(q.label_offset[q.label_count], name.size() - 1);
        }
    }
}

TEST(Query, DropsResponsesAndRunts) {
    Query q;
    auto resp = packet({0x81, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, kQuestion);
    EXPECT_EQ(parse_query(resp, q), ParseStatus::kDrop);
    std::vector<std::uint8_t> runt = {1, 2, 3};
    EXPECT_EQ(parse_query(runt, q), ParseStatus::kDrop);
}

TEST(Query, EveryTruncationIsFormErrNeverACrash) {
    auto full = with_opt(packet({0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1}, kQuestion),
                         {0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100});
    Query q;
    ASSERT_EQ(parse_query(full, q), ParseStatus::kOk);
    for (std::size_t n = 12; n < full.size(); ++n) {
        std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<long>(n));
        EXPECT_EQ(parse_query(cut, q), ParseStatus::kFormErr) << n;
    }
}

TEST(Query, EdnsAndEcs) {
    auto p = with_opt(packet({0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1}, kQuestion),
                      {0xfd, 0xe9, 0, 2, 'h', 'i',              // unknown option: ignored
                       0, 8, 0, 7, 0, 1, 24, 0, 198, 51, 100},  // ECS 198.51.100.0/24
                      4096, 0x00008000);
    Query q;
    ASSERT_EQ(parse_query(p, q), ParseStatus::kOk);
    EXPECT_TRUE(q.edns);
    EXPECT_EQ(q.udp_payload, 4096);
    EXPECT_TRUE(q.do_bit);
    ASSERT_TRUE(q.ecs.present);
    EXPECT_EQ(q.ecs.source_len, 24);
    EXPECT_EQ(q.ecs.address.to_string(), "198.51.100.0");
}

TEST(Query, MalformedEcsIsFormErr) {
    const std::vector<std::vector<std::uint8_t>> bad = {
        {0, 8, 0, 7, 0, 3, 24, 0, 198, 51, 100},           // family 3
        {0, 8, 0, 8, 0, 1, 33, 0, 198, 51, 100, 0},        // /33 for IPv4
        {0, 8, 0, 8, 0, 1, 24, 0, 198, 51, 100, 1},        // one octet too many
        {0, 8, 0, 7, 0, 1, 23, 0, 198, 51, 101},           // bit set past /23
        {0, 8, 0, 3, 0, 1, 0},                             // shorter than the fixed part
        {0, 8, 0, 4, 0, 1, 0, 0, 0, 8, 0, 4, 0, 1, 0, 0},  // two ECS options
    };
    for (const auto& rdata : bad) {
        Query q;
        auto p = with_opt(packet({0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1}, kQuestion), rdata);
        EXPECT_EQ(parse_query(p, q), ParseStatus::kFormErr);
    }
    Query q;
    auto zero =
        with_opt(packet({0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1}, kQuestion), {0, 8, 0, 4, 0, 2, 0, 0});
    ASSERT_EQ(parse_query(zero, q), ParseStatus::kOk);  // /0: the resolver withholds the address
    EXPECT_EQ(q.ecs.source_len, 0);
}

TEST(Query, VersionAndOpcode) {
    Query q;
    auto v1 =
        with_opt(packet({0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1}, kQuestion), {}, 1232, 0x00010000);
    EXPECT_EQ(parse_query(v1, q), ParseStatus::kBadVers);
    // NOTIFY (RFC 1996) parses like a query, a new SOA in answer skipped;
    // UPDATE and the rest are not implemented.
    auto notify = packet({0x20, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, kQuestion);
    EXPECT_EQ(parse_query(notify, q), ParseStatus::kOk);
    EXPECT_EQ(q.opcode, kOpNotify);
    auto with_soa = packet({0x20, 0x00, 0, 1, 0, 1, 0, 0, 0, 0}, kQuestion);
    const std::uint8_t soa[] = {0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 60, 0, 22, 0, 0, 0, 0, 0,
                                7,    0,  0, 0, 1, 0, 0, 0, 1, 0,  0, 0,  1, 0, 0, 0, 1};
    with_soa.insert(with_soa.end(), soa, soa + sizeof soa);
    EXPECT_EQ(parse_query(with_soa, q), ParseStatus::kOk);
    with_soa.pop_back();  // the record cut short
    EXPECT_EQ(parse_query(with_soa, q), ParseStatus::kFormErr);
    auto update = packet({0x28, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}, kQuestion);
    EXPECT_EQ(parse_query(update, q), ParseStatus::kNotImp);
    EXPECT_TRUE(q.has_question);
}

TEST(Query, IxfrCarriesTheClientsSoaInAuthority) {
    // test. IXFR IN, authority: test. SOA (a compressed owner, minimal rdata).
    const std::vector<std::uint8_t> question = {4, 't', 'e', 's', 't', 0, 0, 251, 0, 1};
    std::vector<std::uint8_t> soa = {0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0};
    soa.resize(soa.size() + 20, 0);  // the root as MNAME and RNAME (above), five 32-bit fields
    std::vector<std::uint8_t> rest = question;
    rest.insert(rest.end(), soa.begin(), soa.end());
    Query q;
    EXPECT_EQ(parse_query(packet({0, 0, 0, 1, 0, 0, 0, 1, 0, 0}, rest), q), ParseStatus::kOk);
    EXPECT_EQ(q.qtype, 251);
    // Only for IXFR, only one record, and it must be whole.
    std::vector<std::uint8_t> axfr = rest;
    axfr[7] = 252;
    EXPECT_EQ(parse_query(packet({0, 0, 0, 1, 0, 0, 0, 1, 0, 0}, axfr), q), ParseStatus::kFormErr);
    EXPECT_EQ(parse_query(packet({0, 0, 0, 1, 0, 0, 0, 2, 0, 0}, rest), q), ParseStatus::kFormErr);
    std::vector<std::uint8_t> cut(rest.begin(), rest.end() - 3);
    EXPECT_EQ(parse_query(packet({0, 0, 0, 1, 0, 0, 0, 1, 0, 0}, cut), q), ParseStatus::kFormErr);
}
