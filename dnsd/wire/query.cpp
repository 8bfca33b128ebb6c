#include "dnsd/wire/query.hpp"

#include <cstring>

namespace signpost::dnsd {
inline namespace wire {

bool skip_name(WireReader& r) {
    for (std::size_t total = 0;;) {
        const std::uint8_t len = r.u8();
        if (!r.ok()) return false;
        if (len == 0) return true;
        if ((len & 0xc0) == 0xc0) {
            r.skip(1);  // a pointer ends the name
            return r.ok();
        }
        if ((len & 0xc0) != 0) return false;  // 0x40/0x80 label types: obsolete (RFC 6891 5)
        total += len + 1u;
        if (total + 1 > kMaxNameLen) return false;
        r.skip(len);
    }
}

namespace {

// RFC 7871 section 6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, and
// exactly ceil(source/8) address octets with every bit past the source zero.
bool parse_ecs(const std::uint8_t* p, std::size_t len, ClientSubnet& ecs) {
    if (len < 4 || ecs.present) return false;  // two ECS options: malformed
    const std::uint16_t family = load16(p);
    const std::uint8_t source = p[2];
    const std::uint8_t scope = p[3];
    const unsigned width = family == 1 ? 32 : family == 2 ? 128 : 0;
    if (width == 0 || source > width || scope > width) return false;
    const std::size_t octets = (source + 7u) / 8u;
    if (len - 4 != octets) return false;
    if (source % 8 != 0 && (p[4 + octets - 1] & (0xffu >> (source % 8))) != 0) return false;
    ecs.present = true;
    ecs.family = family;
    ecs.source_len = source;
    ecs.scope_len = scope;
    ecs.address.assign(family == 1 ? common::Family::kV4 : common::Family::kV6, p + 4, octets);
    return true;
}

// An uncompressed wire name at p within n octets: its length, 0 if malformed.
std::size_t plain_name_len(const std::uint8_t* p, std::size_t n) {
    std::size_t i = 0;
    while (i < n && i < kMaxNameLen) {
        const std::uint8_t len = p[i];
        if (len == 0) return i + 1;
        if (len > 63) return 0;  // compressed or an obsolete label type
        i += len + 1u;
    }
    return 0;
}

// The name at `at` in the packet, compression pointers followed, into out
// (uncompressed wire). False when malformed: a pointer forward or to itself
// (so every jump goes back and the walk ends), past the end, an obsolete
// label type, or longer than a name may be.
bool expand_name(std::span<const std::uint8_t> packet, std::size_t at, std::uint8_t* out) {
    std::size_t n = 0;
    for (std::size_t limit = at;;) {
        if (at >= packet.size()) return false;
        const std::uint8_t len = packet[at];
        if ((len & 0xc0) == 0xc0) {
            if (at + 1 >= packet.size()) return false;
            const std::size_t to = (std::size_t{len & 0x3fu} << 8) | packet[at + 1];
            if (to >= limit) return false;
            at = limit = to;
            continue;
        }
        if ((len & 0xc0) != 0 || at + 1 + len > packet.size() || n + 1 + len > kMaxNameLen)
            return false;
        std::memcpy(out + n, &packet[at], len + 1u);
        n += len + 1u;
        if (len == 0) return true;
        at += len + 1u;
    }
}

// RFC 8945 4.2: class ANY, the algorithm name uncompressed (RFC 3597); the
// owner may be compressed like any owner name.
bool parse_tsig(std::span<const std::uint8_t> packet, std::size_t at, const std::uint8_t* rdata,
                std::uint16_t rdlen, std::uint16_t rclass, Query& q) {
    if (q.tsig.present || rclass != klass::ANY) return false;
    const std::uint8_t* owner = packet.data() + at;
    q.tsig.key_expanded = plain_name_len(owner, packet.size() - at) == 0;
    if (q.tsig.key_expanded && !expand_name(packet, at, q.tsig.key_buf)) return false;
    const std::size_t alg_len = plain_name_len(rdata, rdlen);
    if (alg_len == 0 || rdlen - alg_len < 10) return false;
    const std::uint8_t* p = rdata + alg_len;
    std::size_t left = rdlen - alg_len;
    q.tsig.time_signed =
        (std::uint64_t{load16(p)} << 32) | (std::uint64_t{load16(p + 2)} << 16) | load16(p + 4);
    q.tsig.fudge = load16(p + 6);
    q.tsig.mac_len = load16(p + 8);
    p += 10;
    left -= 10;
    if (left < std::size_t{q.tsig.mac_len} + 6) return false;
    q.tsig.mac = p;
    p += q.tsig.mac_len;
    left -= q.tsig.mac_len;
    q.tsig.original_id = load16(p);
    q.tsig.error = load16(p + 2);
    const std::uint16_t other = load16(p + 4);
    if (left - 6 != other) return false;
    q.tsig.present = true;
    q.tsig.offset = at;
    q.tsig.key = owner;
    q.tsig.algorithm = rdata;
    return true;
}

// One additional-section record. Returns false when malformed.
bool parse_additional(WireReader& r, Query& q, bool& saw_opt) {
    const std::size_t name_start = r.pos();
    if (!skip_name(r)) return false;
    const bool root_owner = r.pos() == name_start + 1;
    const std::uint16_t rtype = r.u16();
    const std::uint16_t rclass = r.u16();
    const std::uint32_t ttl = r.u32();
    const std::uint16_t rdlen = r.u16();
    const std::uint8_t* rdata = r.bytes(rdlen);
    if (!r.ok()) return false;
    if (rtype == type::TSIG)
        return parse_tsig({r.data(), r.size()}, name_start, rdata, rdlen, rclass, q);
    if (rtype != type::OPT) return true;  // other records: not ours to judge
    // RFC 6891 6.1.1: one OPT, owned by the root.
    if (saw_opt || !root_owner) return false;
    saw_opt = true;
    q.edns = true;
    q.udp_payload = rclass;
    q.edns_version = static_cast<std::uint8_t>(ttl >> 16);
    q.do_bit = (ttl & 0x8000) != 0;
    for (std::size_t i = 0; i < rdlen;) {
        if (rdlen - i < 4) return false;
        const std::uint16_t code = load16(rdata + i);
        const std::uint16_t olen = load16(rdata + i + 2);
        i += 4;
        if (rdlen - i < olen) return false;
        if (code == kOptionEcs && !parse_ecs(rdata + i, olen, q.ecs)) return false;
        if (code == kOptionCookie) {
            // RFC 7873 5.2.2: a client cookie of 8 octets, then nothing or a
            // server cookie of 8 to 32; anything else (or a second one) is FORMERR.
            if (q.cookie.present || olen < 8 || (olen > 8 && olen < 16) || olen > 40) return false;
            q.cookie.present = true;
            std::memcpy(q.cookie.client, rdata + i, 8);
            q.cookie.server_len = static_cast<std::uint8_t>(olen - 8);
            std::memcpy(q.cookie.server, rdata + i + 8, olen - 8u);
        }
        // RFC 5001 2.1: a request carries no data; any is ignored.
        if (code == kOptionNsid) q.nsid = true;
        i += olen;  // unknown options are ignored (RFC 6891 6.1.2)
    }
    return true;
}

}  // namespace

bool read_question_name(WireReader& r, Query& q) {
    // The labels' lengths first (no pointers, no extended label types), which
    // also proves the whole name lies inside the packet; then the whole name
    // copied in lower case, eight octets at a time (below eight, one by one):
    // a length octet is at most 63, below 'A', and lowering leaves it alone.
    const std::uint8_t* p = r.here();
    const std::size_t avail = r.remaining();
    std::size_t at = 0;
    std::uint8_t labels = 0;
    for (;;) {
        if (at >= avail) return false;  // the name runs past the packet
        const std::uint8_t len = p[at];
        if ((len & 0xc0) != 0) return false;
        if (len == 0) break;
        if (at + len + 2 > kMaxNameLen) return false;
        q.label_offset[labels++] = static_cast<std::uint8_t>(at);
        at += len + 1u;
    }
    q.label_offset[labels] = static_cast<std::uint8_t>(at);
    q.label_count = labels;
    const std::size_t n = at + 1;
    // Eight octets at a time: a high bit marks each octet in 'A'..'Z' (below
    // 0x80, at least 'A', not above 'Z'), shifted to 0x20. The last eight
    // overlap the ones before (lowering twice is lowering once).
    const auto lower8 = [&](std::size_t i) {
        constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
        constexpr std::uint64_t kHigh = 0x8080808080808080ULL;
        std::uint64_t x;
        std::memcpy(&x, p + i, 8);
        const std::uint64_t low7 = x & ~kHigh;
        const std::uint64_t at_least_a = low7 + (0x80 - 'A') * kOnes;
        const std::uint64_t above_z = low7 + (0x80 - 'Z' - 1) * kOnes;
        const std::uint64_t upper = at_least_a & ~above_z & ~x & kHigh;
        x |= upper >> 2;
        std::memcpy(q.qname + i, &x, 8);
    };
    if (n >= 8) {
        for (std::size_t i = 0; i + 8 < n; i += 8) lower8(i);
        lower8(n - 8);
    } else {
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint8_t c = p[i];
            q.qname[i] = (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + 32) : c;
        }
    }
    q.qname_len = static_cast<std::uint8_t>(n);
    r.skip(n);
    return true;
}

ParseStatus parse_query(std::span<const std::uint8_t> packet, Query& q) {
    if (packet.size() < kHeaderSize) return ParseStatus::kDrop;
    WireReader r(packet.data(), packet.size());
    q.id = r.u16();
    q.flags = r.u16();
    if (q.flags & flag::QR) return ParseStatus::kDrop;  // never answer a response
    q.opcode = static_cast<std::uint8_t>((q.flags >> 11) & 0xf);
    const std::uint16_t qdcount = r.u16();
    const std::uint16_t ancount = r.u16();
    std::uint16_t nscount = r.u16();
    const std::uint16_t arcount = r.u16();
    q.has_question = false;
    q.edns = false;
    q.nsid = false;
    q.cookie.present = false;
    // Field by field, and not the address (read only when present): a
    // ClientSubnet{} or IpAddress{} is built on the stack and copied with a
    // wide load over its narrow stores, a store-forwarding stall that cost
    // half of a short query's parse.
    q.ecs.present = false;
    q.ecs.family = 0;
    q.ecs.source_len = 0;
    q.ecs.scope_len = 0;
    q.tsig.present = false;
    if (qdcount != 1) return q.opcode != 0 ? ParseStatus::kNotImp : ParseStatus::kFormErr;

    q.question = r.here();
    if (!read_question_name(r, q)) return ParseStatus::kFormErr;
    q.qtype = r.u16();
    q.qclass = r.u16();
    if (!r.ok()) return ParseStatus::kFormErr;
    q.question_len = static_cast<std::size_t>(r.here() - q.question);
    q.has_question = true;
    if (q.opcode == kOpNotify) {
        // A NOTIFY (RFC 1996 3.7) may carry the new SOA in answer: records
        // checked for shape and skipped (the SOA is asked for afterwards).
        for (unsigned i = 0; i < ancount + nscount; ++i) {
            if (!skip_name(r)) return ParseStatus::kFormErr;
            r.skip(8);  // type, class, TTL
            const std::uint16_t rdlen = r.u16();
            r.skip(rdlen);
            if (!r.ok()) return ParseStatus::kFormErr;
        }
        nscount = 0;
    } else if (q.opcode != kOpQuery) {
        return ParseStatus::kNotImp;
    } else if (ancount != 0) {
        // A standard query carries nothing in answer or authority (RFC 1035
        // 4.1.1), but an IXFR carries the client's SOA in authority (RFC 1995
        // 3): one well-formed record, skipped (the whole zone is the answer).
        return ParseStatus::kFormErr;
    }
    q.ixfr_serial_present = false;
    if (nscount != 0) {
        if (q.qtype != type::IXFR || nscount != 1 || !skip_name(r)) return ParseStatus::kFormErr;
        const std::uint16_t rtype = r.u16();
        r.skip(6);  // class, TTL
        const std::uint16_t rdlen = r.u16();
        const std::size_t rdata_at = r.pos();
        if (rtype == type::SOA && skip_name(r) && skip_name(r)) {  // MNAME, RNAME
            q.ixfr_serial = r.u32();
            q.ixfr_serial_present = r.ok() && r.pos() <= rdata_at + rdlen;
        }
        if (!r.ok() || r.pos() > rdata_at + rdlen) return ParseStatus::kFormErr;
        r.skip(rdata_at + rdlen - r.pos());
        if (!r.ok()) return ParseStatus::kFormErr;
    }
    bool saw_opt = false;
    for (std::uint16_t i = 0; i < arcount; ++i) {
        // A TSIG must be the last record (RFC 8945 5.1).
        if (q.tsig.present || !parse_additional(r, q, saw_opt)) return ParseStatus::kFormErr;
    }
    if (r.remaining() != 0) return ParseStatus::kFormErr;  // trailing garbage
    if (q.edns && q.edns_version > 0) return ParseStatus::kBadVers;
    return ParseStatus::kOk;
}

}  // namespace wire
}  // namespace signpost::dnsd
