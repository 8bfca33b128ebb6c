// Fuzzes dnsd's per-packet path: parse_query then respond, over UDP and TCP
// limits, against the system tests' zone. Whatever the bytes, the response
// (if any) must be a well-formed DNS message that ldns can decode, fit the
// size limit, carry the query's ID, and have QR set.
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "dnsd/wire/query.hpp"
#include "dnsd/zone/responder.hpp"
#include "dnsd/zone/zone_loader.hpp"

// After the C++ headers: ldns' C headers upset <optional> when they come first.
#include <ldns/ldns.h>

using namespace signpost::dnsd;

namespace {
const ZoneSet& zones() {
    static ZoneSet set = [] {
        ZoneSet s;
        auto r = load_zone_file("example.test",
                                std::string(SIGNPOST_SOURCE_DIR) + "/tests/system/data/test.zone");
        if (!r.zone) {
            std::fprintf(stderr, "fuzz setup: %s\n", r.error.c_str());
            std::abort();
        }
        s.add(r.zone);
        return s;
    }();
    return set;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static WorkerStats stats;
    static std::uint8_t out[65535];
    static const auto src = *signpost::common::IpAddress::parse("192.0.2.1");
    // The longest NSID we accept, so its room in every answer is checked too.
    static const ResponderOptions opts = [] {
        ResponderOptions o;
        o.nsid.assign(128, 'n');
        return o;
    }();
    static Query q;  // reused, as each worker reuses its batch's
    for (bool tcp : {false, true}) {
        const ParseStatus st = parse_query(std::span(data, size), q);
        const std::size_t n = respond(q, st, src, tcp ? Transport::kTcp : Transport::kUdp,
                                      {zones(), opts, stats}, out);
        if (n == 0) {
            if (st != ParseStatus::kDrop) std::abort();  // only drops go unanswered
            continue;
        }
        if (n < kHeaderSize || (!tcp && n > kDefaultEdnsPayload)) std::abort();
        if (load16(out) != load16(data) || !(out[2] & 0x80)) std::abort();
        ldns_pkt* pkt = nullptr;
        if (ldns_wire2pkt(&pkt, out, n) != LDNS_STATUS_OK) std::abort();
        ldns_pkt_free(pkt);
    }
    return 0;
}
