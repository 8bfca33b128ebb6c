#include "dnsd/zone/zone_copy.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "dnsd/wire/tsig.hpp"
#include "dnsd/zone/transfer.hpp"
#include "dnsd/zone/zone_loader.hpp"

using namespace signpost::dnsd;

namespace {

const std::string kOrigin = std::string("\7example\4test\0", 14);

std::string temp_path(const std::string& what) {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    return testing::TempDir() + "/zone_copy_test." + info->name() + "." + what + "." +
           std::to_string(getpid()) + ".zone";
}

std::shared_ptr<Zone> load(std::uint32_t serial, const std::string& extra, const std::string& tag) {
    const std::string path = temp_path(tag);
    std::ofstream(path) << "$TTL 60\n@ SOA ns hm " << serial
                        << " 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nw A 192.0.2.2\n"
                           "t TXT \"two words\" \"and; more\"\nm MX 10 mail.elsewhere.test.\n"
                           "u TYPE65534 \\# 3 abcdef\n"
                        << extra;
    auto r = load_zone_file("example.test", path);
    EXPECT_TRUE(r.zone) << r.error;
    r.zone->seal();
    return r.zone;
}

// An AXFR or IXFR query for the zone, parsed (the streams echo its question).
struct Request {
    std::vector<std::uint8_t> wire;
    Query q;
    explicit Request(std::uint16_t qtype, std::uint16_t id = 0x1234) {
        std::string w = {
            static_cast<char>(id >> 8), static_cast<char>(id & 0xff), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0};
        w += kOrigin;
        w += {static_cast<char>(qtype >> 8), static_cast<char>(qtype & 0xff), 0, 1};
        wire.assign(w.begin(), w.end());
        EXPECT_EQ(parse_query(wire, q), ParseStatus::kOk);
    }
    std::span<const std::uint8_t> question() const { return {q.question, q.question_len}; }
};

// Feeds every message of `stream` to `reader`; the last status.
TransferReader::Status pump(TransferStream& stream, TransferReader& reader) {
    std::vector<std::uint8_t> buf(65535);
    auto st = TransferReader::Status::kMore;
    while (const std::size_t n = stream.next(buf)) {
        st = reader.feed(std::span(buf.data(), n));
        if (st != TransferReader::Status::kMore) break;
    }
    return st;
}

}  // namespace

TEST(ZoneCopy, AxfrGivesEveryRecord) {
    auto z = load(7, "", "v");
    Request req(type::AXFR);
    AxfrStream axfr(z, *z, req.q, req.question());
    TransferReader reader(kOrigin, 0x1234, nullptr, 0);
    ASSERT_EQ(pump(axfr, reader), TransferReader::Status::kDone) << reader.error();
    EXPECT_EQ(reader.kind(), TransferReader::Kind::kFull);
    EXPECT_EQ(reader.serial(), 7u);
    EXPECT_EQ(reader.records(), records_of(*z));
    EXPECT_EQ(reader.changes(), records_of(*z).size());
}

TEST(ZoneCopy, IxfrStepsApplyToTheCopy) {
    auto v1 = load(1, "old A 192.0.2.9\n", "v1");
    auto v2 = load(2, "new A 192.0.2.10\n", "v2");
    record_history(*v2, *v1);
    auto v3 = load(3, "new 30 A 192.0.2.10\nnew 30 A 192.0.2.11\n", "v3");
    record_history(*v3, *v2);
    ASSERT_EQ(v3->history.size(), 2u);
    const RecordSet have = records_of(*v1);
    Request req(type::IXFR);
    IxfrStream ixfr(v3, *v3, req.q, req.question(), 0);
    TransferReader reader(kOrigin, 0x1234, &have, 1);
    ASSERT_EQ(pump(ixfr, reader), TransferReader::Status::kDone) << reader.error();
    EXPECT_EQ(reader.kind(), TransferReader::Kind::kIncremental);
    EXPECT_EQ(reader.serial(), 3u);
    EXPECT_EQ(reader.steps(), 2u);
    EXPECT_EQ(reader.records(), records_of(*v3));

    // From the current serial: the SOA alone says the copy is current.
    const RecordSet now = records_of(*v3);
    IxfrStream current(v3, *v3, req.q, req.question(), v3->history.size());
    TransferReader up(kOrigin, 0x1234, &now, 3);
    ASSERT_EQ(pump(current, up), TransferReader::Status::kDone) << up.error();
    EXPECT_EQ(up.kind(), TransferReader::Kind::kCurrent);

    // A server that answers an IXFR with the whole zone: taken as a full copy.
    AxfrStream whole(v3, *v3, req.q, req.question());
    TransferReader full(kOrigin, 0x1234, &have, 1);
    ASSERT_EQ(pump(whole, full), TransferReader::Status::kDone) << full.error();
    EXPECT_EQ(full.kind(), TransferReader::Kind::kFull);
    EXPECT_EQ(full.records(), records_of(*v3));
}

TEST(ZoneCopy, IxfrThatDoesNotFitTheCopyIsRefused) {
    auto v1 = load(1, "old A 192.0.2.9\n", "v1");
    auto v2 = load(2, "new A 192.0.2.10\n", "v2");
    record_history(*v2, *v1);
    // A copy at serial 1 without the record the difference deletes.
    RecordSet have = records_of(*v1);
    for (auto it = have.begin(); it != have.end();)
        it = it->first.rfind(std::string("\3old", 4), 0) == 0 ? have.erase(it) : std::next(it);
    Request req(type::IXFR);
    IxfrStream ixfr(v2, *v2, req.q, req.question(), 0);
    TransferReader reader(kOrigin, 0x1234, &have, 1);
    EXPECT_EQ(pump(ixfr, reader), TransferReader::Status::kError);
    EXPECT_NE(reader.error().find("old.example.test."), std::string::npos) << reader.error();
}

TEST(ZoneCopy, BadAnswersAreRefusedNotCrashedOn) {
    auto z = load(7, "", "v");
    Request req(type::AXFR);
    std::vector<std::uint8_t> buf(65535);
    AxfrStream axfr(z, *z, req.q, req.question());
    const std::size_t n = axfr.next(buf);
    ASSERT_GT(n, 0u);
    {  // another query's ID
        TransferReader r(kOrigin, 0x4321, nullptr, 0);
        EXPECT_EQ(r.feed(std::span(buf.data(), n)), TransferReader::Status::kError);
        EXPECT_NE(r.error().find("another query"), std::string::npos);
    }
    {  // REFUSED
        std::vector<std::uint8_t> m(buf.begin(), buf.begin() + 12);
        m[3] = 5;
        m[5] = m[7] = 0;
        TransferReader r(kOrigin, 0x1234, nullptr, 0);
        EXPECT_EQ(r.feed(m), TransferReader::Status::kError);
        EXPECT_NE(r.error().find("REFUSED"), std::string::npos);
    }
    // Every truncation of a real message: an error or more wanted, never a crash.
    for (std::size_t cut = 0; cut < n; cut += 7) {
        TransferReader r(kOrigin, 0x1234, nullptr, 0);
        const auto st = r.feed(std::span(buf.data(), cut));
        EXPECT_NE(st, TransferReader::Status::kDone);
    }
    {  // too many records
        TransferReader r(kOrigin, 0x1234, nullptr, 0, 3);
        EXPECT_EQ(r.feed(std::span(buf.data(), n)), TransferReader::Status::kError);
    }
}

TEST(ZoneCopy, TextRoundTripsThroughTheLoader) {
    auto z = load(9, "*.wild A 192.0.2.30\nsub NS ns.sub\nns.sub A 192.0.2.31\n", "v");
    const RecordSet records = records_of(*z);
    std::string text, error;
    ASSERT_TRUE(zone_text(records, "zone example.test serial 9\nsecond line", text, error))
        << error;
    EXPECT_EQ(text.rfind("; zone example.test serial 9\n; second line\n", 0), 0u);
    const std::string path = temp_path("copy");
    std::ofstream(path) << text;
    auto back = load_zone_file("example.test", path);
    ASSERT_TRUE(back.zone) << back.error;
    EXPECT_EQ(records_of(*back.zone), records);
    EXPECT_EQ(back.zone->serial, 9u);
}

// RFC 8945 forbids compressing only the algorithm name; the owner (the key's
// name) may be compressed like any owner, and dnspython does compress it.
TEST(Tsig, ACompressedKeyNameIsExpandedAndVerifies) {
    std::string error;
    auto key = make_tsig_key("xfr.example.test.", "hmac-sha256",
                             "c2lnbnBvc3QgdGVzdCBrZXkgMzIgYnl0ZXMgbG9uZyEhIQ==", error);
    ASSERT_TRUE(key) << error;
    Request req(type::SOA);
    std::vector<std::uint8_t> wire = req.wire;
    const std::size_t len = wire.size();
    wire.resize(len + 512);
    std::vector<std::uint8_t> mac;
    wire.resize(sign_request(wire.data(), len, wire.size(), *key, 1'000'000, mac));
    // The owner "\3xfr\7example\4test\0" at `len` becomes "\3xfr" and a
    // pointer to the question's name at offset 12.
    const std::uint8_t plain[] = {3,   'x', 'f', 'r', 7,   'e', 'x', 'a', 'm',
                                  'p', 'l', 'e', 4,   't', 'e', 's', 't', 0};
    ASSERT_TRUE(std::equal(std::begin(plain), std::end(plain), wire.begin() + len));
    std::vector<std::uint8_t> packed(wire.begin(), wire.begin() + len + 4);
    packed.push_back(0xc0);
    packed.push_back(12);
    packed.insert(packed.end(), wire.begin() + len + sizeof plain, wire.end());
    Query q;
    ASSERT_EQ(parse_query(packed, q), ParseStatus::kOk);
    ASSERT_TRUE(q.tsig.present);
    EXPECT_TRUE(q.tsig.key_expanded);
    EXPECT_EQ(check_tsig(packed, q, {&*key}, 1'000'010).error, tsig_error::kNone);
    // A pointer to itself (or forward) is malformed, not a loop.
    std::vector<std::uint8_t> loop(wire.begin(), wire.begin() + len + 4);
    loop.push_back(static_cast<std::uint8_t>(0xc0 | ((len + 4) >> 8)));
    loop.push_back(static_cast<std::uint8_t>((len + 4) & 0xff));
    loop.insert(loop.end(), wire.begin() + len + sizeof plain, wire.end());
    EXPECT_EQ(parse_query(loop, q), ParseStatus::kFormErr);
}

TEST(Tsig, RequestsSignedAndAnswersVerified) {
    std::string error;
    auto key = make_tsig_key("xfr.example.", "hmac-sha256",
                             "c2lnbnBvc3QgdGVzdCBrZXkgMzIgYnl0ZXMgbG9uZyEhIQ==", error);
    ASSERT_TRUE(key) << error;
    auto other = make_tsig_key("xfr.example.", "hmac-sha256",
                               "YW5vdGhlciBzZWNyZXQgYWx0b2dldGhlciwgMzIgYnl0ZQ==", error);
    ASSERT_TRUE(other) << error;
    Request req(type::AXFR);
    std::vector<std::uint8_t> wire = req.wire;
    const std::size_t len = wire.size();
    wire.resize(len + 512);
    std::vector<std::uint8_t> mac;
    wire.resize(sign_request(wire.data(), len, wire.size(), *key, 1'000'000, mac));
    ASSERT_GT(wire.size(), len);
    // The server side accepts it (as dnsd does for its own secondaries).
    Query q;
    ASSERT_EQ(parse_query(wire, q), ParseStatus::kOk);
    ASSERT_TRUE(q.tsig.present);
    const TsigCheck check = check_tsig(wire, q, {&*key}, 1'000'010);
    EXPECT_EQ(check.error, tsig_error::kNone);
    EXPECT_EQ(check.request_mac, mac);
    // Two signed answer messages, checked in order; tampering is caught.
    auto z = load(7, "", "v");
    TsigSigner signer(*key, check.request_mac);
    std::vector<std::vector<std::uint8_t>> msgs;
    for (int i = 0; i < 2; ++i) {
        std::vector<std::uint8_t> m(65535);
        AxfrStream axfr(z, *z, req.q, req.question());
        const std::size_t n = axfr.next(m);
        m.resize(signer.sign(m.data(), n, m.size(), 1'000'020));
        msgs.push_back(m);
    }
    TsigVerifier ok(*key, mac);
    EXPECT_TRUE(ok.verify(msgs[0], 1'000'030, error)) << error;
    EXPECT_TRUE(ok.verify(msgs[1], 1'000'030, error)) << error;
    EXPECT_TRUE(ok.last_signed());
    TsigVerifier wrong_key(*other, mac);
    EXPECT_FALSE(wrong_key.verify(msgs[0], 1'000'030, error));
    TsigVerifier out_of_order(*key, mac);
    EXPECT_FALSE(out_of_order.verify(msgs[1], 1'000'030, error));
    TsigVerifier late(*key, mac);
    EXPECT_FALSE(late.verify(msgs[0], 1'000'020 + 3600, error));
    EXPECT_NE(error.find("off"), std::string::npos) << error;
    auto tampered = msgs[0];
    tampered[30] ^= 1;
    TsigVerifier t(*key, mac);
    EXPECT_FALSE(t.verify(tampered, 1'000'030, error));
    // An unsigned first message is refused.
    std::vector<std::uint8_t> plain(65535);
    AxfrStream axfr(z, *z, req.q, req.question());
    plain.resize(axfr.next(plain));
    TsigVerifier u(*key, mac);
    EXPECT_FALSE(u.verify(plain, 1'000'030, error));
}
