#pragma once
// Parsing a query: only what an authoritative server needs (header, the one
// question, the OPT record and its Client Subnet option), in place, with no
// allocation. Everything else is validated for shape and skipped.

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/ip_address.hpp"
#include "dnsd/wire/cookie.hpp"
#include "dnsd/wire/wire.hpp"

namespace signpost::dnsd {
inline namespace wire {

// EDNS Client Subnet (RFC 7871 section 6).
struct ClientSubnet {
    bool present = false;
    std::uint16_t family = 0;  // 1 IPv4, 2 IPv6
    std::uint8_t source_len = 0;
    std::uint8_t scope_len = 0;
    // Host bits past source_len are zero (checked); meaningful only when
    // present (parse_query leaves the last query's there otherwise).
    common::IpAddress address;
};

// A TSIG record (RFC 8945) ending the query, as pointers into the packet:
// checked only where a transfer asks for it (wire/tsig.hpp).
struct QueryTsig {
    bool present = false;
    std::size_t offset = 0;  // where the record starts in the packet
    // The owner, the key's name, uncompressed wire: in the packet, or (a
    // compressed owner: RFC 8945 forbids compressing only the algorithm name,
    // and clients such as dnspython compress the owner) expanded into key_buf.
    const std::uint8_t* key_name() const { return key_expanded ? key_buf : key; }
    const std::uint8_t* key = nullptr;
    bool key_expanded = false;
    std::uint8_t key_buf[256];
    const std::uint8_t* algorithm = nullptr;  // uncompressed wire
    std::uint64_t time_signed = 0;            // 48 bits
    std::uint16_t fudge = 0;
    const std::uint8_t* mac = nullptr;
    std::uint16_t mac_len = 0;
    std::uint16_t original_id = 0;
    std::uint16_t error = 0;
};

struct Query {
    std::uint16_t id = 0;
    std::uint16_t flags = 0;  // the query's second header word, as received
    std::uint8_t opcode = 0;
    // The question, as received (original case: it is copied into the reply
    // verbatim, RFC 4343 and resolvers using 0x20 mixed case rely on it).
    const std::uint8_t* question = nullptr;
    std::size_t question_len = 0;  // name + type + class
    bool has_question = false;
    // The name lower-cased, in wire form, and where each label starts in it.
    std::uint8_t qname[kMaxNameLen];
    std::uint8_t qname_len = 0;
    std::uint8_t label_count = 0;  // not counting the root
    std::uint8_t label_offset[128];
    std::uint16_t qtype = 0;
    std::uint16_t qclass = 0;
    // IXFR: the serial of the SOA the client sent in authority (RFC 1995 3).
    bool ixfr_serial_present = false;
    std::uint32_t ixfr_serial = 0;
    // EDNS (RFC 6891).
    bool edns = false;
    std::uint16_t udp_payload = 0;  // as the client sent it
    std::uint8_t edns_version = 0;
    bool do_bit = false;
    bool nsid = false;   // the client asked for our name server identifier (RFC 5001)
    QueryCookie cookie;  // DNS Cookies (RFC 7873)
    ClientSubnet ecs;
    QueryTsig tsig;
};

enum class ParseStatus {
    kOk,
    kDrop,     // not worth an answer: shorter than a header, or a response (QR=1)
    kFormErr,  // malformed: answer FORMERR (with the question if it parsed)
    kNotImp,   // an opcode other than QUERY
    kBadVers,  // EDNS version > 0: answer BADVERS with our OPT
};

ParseStatus parse_query(std::span<const std::uint8_t> packet, Query& q);

// Reads an uncompressed name at r (a query's question may not use compression:
// there is nothing before it to point at) into q.qname, lower-cased, with its
// label offsets. Returns false on any malformation.
bool read_question_name(WireReader& r, Query& q);

// Skips a possibly compressed name in a resource record; false if malformed.
bool skip_name(WireReader& r);

}  // namespace wire
}  // namespace signpost::dnsd
