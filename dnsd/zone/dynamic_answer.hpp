#pragma once
// A name whose answer is computed per query: the hook the redirect layer
// plugs into. The zone holds it like any RRset; the responder calls it with
// the query (for the client subnet) and writes what it returns.

#include <cstdint>
#include <cstring>

#include "dnsd/stats/worker_stats.hpp"
#include "dnsd/wire/query.hpp"
#include "dnsd/wire/writer.hpp"

// The redirect layer's state, carried through a query opaquely (declared
// above this layer: the zone only passes the pointers on).
namespace signpost::dnsd {
inline namespace redirect {
struct Decisions;
struct HealthState;
struct RangeHit;
}  // namespace redirect
}  // namespace signpost::dnsd

namespace signpost::dnsd {
inline namespace zone {

struct Zone;
struct Node;

// The owner name of records being written: the query's own name (written as a
// pointer to the question, which keeps the client's letter case) or another
// name in wire form (compressed against the message).
struct Owner {
    const std::uint8_t* wire = nullptr;  // nullptr: the query name
    void write(Writer& w) const {
        if (wire) {
            w.name(wire);
        } else {
            w.u16(0xc000 | kHeaderSize);  // the question's name is always at offset 12
        }
    }
};

// Per-thread state a dynamic answer may use (never shared between threads).
struct QueryEnv {
    const Decisions* decisions = nullptr;  // the serving state's compiled maps (nullptr: none)
    const HealthState* health = nullptr;   // this batch's health snapshot (nullptr: all up)
    // This query's decision-range lookups, made with its batch's, one per map
    // of `decisions` (nullptr: none made, a redirect looks up its own).
    const RangeHit* hits = nullptr;
    std::uint64_t round_robin = 0;
    // Set when a dynamic answer wrote into the response (it depends on more
    // than the query's bytes: such responses are never cached).
    bool dynamic_used = false;
    // The last query name found to be a computed name itself (no CNAME on
    // the way), and where: CDN traffic asks a few names, so most queries need
    // neither the zone lookup again nor a look in the answer cache (which
    // never holds such answers). Valid while the state it was found in is
    // served: whoever changes the state clears it (QueryPipeline::begin, end),
    // since a new state's zones may take the old one's addresses.
    struct DynamicName {
        const Zone* zone = nullptr;  // nullptr: none
        const Node* node = nullptr;
        std::uint8_t len = 0;
        std::uint8_t wire[kMaxNameLen];  // lower-case, as Query::qname
        bool matches(const Query& q) const {
            if (!zone || q.qname_len != len) return false;
            if (len < 8) return std::memcmp(q.qname, wire, len) == 0;
            // Inline, eight octets at a time, the last eight overlapping (a
            // libc call cost more than the compare for a name this short).
            std::uint64_t a, b, diff = 0;
            for (std::size_t i = 0; i + 8 < len; i += 8) {
                std::memcpy(&a, q.qname + i, 8);
                std::memcpy(&b, wire + i, 8);
                diff |= a ^ b;
            }
            std::memcpy(&a, q.qname + len - 8, 8);
            std::memcpy(&b, wire + len - 8, 8);
            return (diff | (a ^ b)) == 0;
        }
        void set(const Zone* z, const Node* n, const Query& q) {
            zone = z;
            node = n;
            len = q.qname_len;
            std::memcpy(wire, q.qname, len);
        }
    } last_dynamic;
};

struct DynamicContext {
    const Query& query;
    const common::IpAddress& source;  // the query's source address
    QueryEnv& env;
    WorkerStats& stats;
    // Out: the ECS scope prefix length the answer depends on (RFC 7871 7.2.1).
    std::uint8_t ecs_scope = 0;
};

class DynamicAnswer {
  public:
    virtual ~DynamicAnswer() = default;
    // Writes answer records for qtype, owned by `owner` (the query name, or a
    // CNAME target when a chain led here). Returns how many records were
    // written (0: NODATA for this type).
    virtual unsigned answer(DynamicContext& ctx, std::uint16_t qtype, const Owner& owner,
                            Writer& w) const = 0;
    // The records of type qtype (A or AAAA) a zone transfer exports for this
    // name, the same for every client (a secondary has no client to decide
    // for); 0: none.
    virtual unsigned transfer_records(std::uint16_t qtype, const Owner& owner, Writer& w) const {
        (void)qtype;
        (void)owner;
        (void)w;
        return 0;
    }
    // A hash of what transfer_records() exports, for the zone's content hash
    // (a change of it under the same serial is warned about).
    virtual std::uint64_t transfer_hash() const { return 0; }
};

}  // namespace zone
}  // namespace signpost::dnsd
