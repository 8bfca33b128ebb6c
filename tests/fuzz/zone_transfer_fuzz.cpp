// Fuzzes what dnsd reads as a secondary: the messages of a primary's answer
// to an IXFR (from the system tests' zone as the copy) and to an AXFR, and
// their TSIG. Input: messages, each behind a 2-octet length as over TCP.
// Whatever the bytes, the reader ends in kMore, kDone or kError (never a
// crash), and a zone it completes can be written as text.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "dnsd/wire/tsig.hpp"
#include "dnsd/zone/zone_copy.hpp"
#include "dnsd/zone/zone_loader.hpp"

using namespace signpost::dnsd;

namespace {
const RecordSet& copy() {
    static const RecordSet set = [] {
        auto r = load_zone_file("example.test",
                                std::string(SIGNPOST_SOURCE_DIR) + "/tests/system/data/test.zone");
        if (!r.zone) {
            std::fprintf(stderr, "fuzz setup: %s\n", r.error.c_str());
            std::abort();
        }
        return records_of(*r.zone);
    }();
    return set;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::string origin = text_to_wire("example.test");
    static const TsigKey key = [] {
        std::string error;
        return *make_tsig_key("xfr.example.", "hmac-sha256",
                              "c2lnbnBvc3QgdGVzdCBrZXkgMzIgYnl0ZXMgbG9uZyEhIQ==", error);
    }();
    TransferReader ixfr(origin, 0x1234, &copy(), 2026112301, 10000);
    TransferReader axfr(origin, 0x1234, nullptr, 0, 10000);
    TsigVerifier verifier(key, std::vector<std::uint8_t>(32, 7));
    std::string error;
    for (std::size_t at = 0; at + 2 <= size;) {
        const std::size_t len =
            std::min<std::size_t>((std::size_t{data[at]} << 8) | data[at + 1], size - at - 2);
        const std::span<const std::uint8_t> msg(data + at + 2, len);
        at += 2 + len;
        verifier.verify(msg, 1'000'000, error);
        for (TransferReader* r : {&ixfr, &axfr}) {
            if (r->feed(msg) != TransferReader::Status::kDone) continue;
            std::string text;
            if (r->kind() != TransferReader::Kind::kCurrent)
                zone_text(r->records(), "fuzz", text, error);
        }
    }
    return 0;
}
