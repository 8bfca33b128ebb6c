#pragma once
// A name whose answer is computed per query: the hook the redirect layer
// plugs into. The zone holds it like any RRset; the responder calls it with
// the query (for the client subnet) and writes what it returns.

#include <cstdint>

#include "dnsd/query.hpp"
#include "dnsd/writer.hpp"

namespace signpost::dnsd {

class GeoSource;
struct WorkerStats;
struct HealthState;

// Per-thread state a dynamic answer may use (never shared between threads).
struct QueryEnv {
    GeoSource* geo = nullptr;             // nullptr: no geoipd configured for this thread
    const HealthState* health = nullptr;  // this batch's health snapshot (nullptr: all up)
    std::uint64_t round_robin = 0;
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
    // Writes answer records for qtype, owned by `owner_ptr` (a compression
    // pointer to the owner already in the message). Returns how many records
    // were written (0: NODATA for this type).
    virtual unsigned answer(DynamicContext& ctx, std::uint16_t qtype, std::uint16_t owner_ptr,
                            Writer& w) const = 0;
    // The address whose geo facts the answer will need, if any (so a worker
    // can look up a whole batch's misses at once before answering).
    virtual bool geo_key(const Query&, const common::IpAddress&, common::IpAddress&) const {
        return false;
    }
};

}  // namespace signpost::dnsd
