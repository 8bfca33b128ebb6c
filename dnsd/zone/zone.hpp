#pragma once
// A zone in memory, immutable once built: every owner name (lower-case wire
// form) maps to a node holding its RRsets with rdata prebuilt in wire format.
// Empty non-terminals get (empty) nodes too, so "no node" means NXDOMAIN and
// an empty node means NODATA (RFC 8020 semantics fall out of the structure).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip_address.hpp"
#include "dnsd/wire/tsig.hpp"
#include "dnsd/wire/wire.hpp"
#include "dnsd/zone/name_index.hpp"

namespace signpost::dnsd {
inline namespace zone {

class DynamicAnswer;  // a name whose answer is computed per query (redirects)

struct Record {
    std::vector<std::uint8_t> rdata;  // uncompressed wire rdata
    // Offsets in rdata of names that may be compressed (RFC 3597 section 4:
    // only in the RFC 1035 types: NS, CNAME, SOA, PTR, MX). At most two (SOA).
    std::uint8_t name_at[2] = {0, 0};
    std::uint8_t names = 0;
};

struct RRset {
    std::uint16_t type = 0;
    std::uint32_t ttl = 0;
    std::vector<Record> records;
};

struct Node {
    std::vector<RRset> rrsets;    // a handful per name: a linear scan beats a map
    bool delegation = false;      // NS here, below the apex: a zone cut
    bool wildcard_child = false;  // "*.<this name>" exists
    std::shared_ptr<const DynamicAnswer> dynamic;

    const RRset* find(std::uint16_t t) const {
        for (const auto& r : rrsets)
            if (r.type == t) return &r;
        return nullptr;
    }
    bool empty() const { return rrsets.empty() && !dynamic; }
};

struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return name_hash(s); }
};

// Built (and edited, while loading) as a map; looked up through Zone::index.
using NodeMap = std::unordered_map<std::string, Node, NameHash, std::equal_to<>>;

// A name in lower-case wire form with its label offsets: the lookup key.
struct NameRef {
    const std::uint8_t* wire = nullptr;
    std::uint8_t len = 0;     // including the root octet
    std::uint8_t labels = 0;  // not counting the root
    const std::uint8_t* offset =
        nullptr;  // offset[i]: start of the name without its first i labels
    std::string_view suffix(unsigned stripped) const {
        return std::string_view(reinterpret_cast<const char*>(wire) + offset[stripped],
                                len - offset[stripped]);
    }
};

// Owns the storage behind a NameRef built from an arbitrary wire name.
struct NameBuf {
    std::uint8_t wire[kMaxNameLen];
    std::uint8_t offset[128];
    NameRef ref;
    // From an uncompressed wire name (any case); false if malformed.
    bool set(const std::uint8_t* name);
};

// One step of a zone's history: what changed from one serial to the next
// (RFC 1995's difference sequence), kept so that an IXFR can send it.
struct ZoneDiff {
    struct Change {
        std::string owner;  // lower-case wire
        std::uint16_t type = 0;
        std::uint32_t ttl = 0;
        Record record;
    };
    std::uint32_t from_serial = 0, to_serial = 0;
    RRset from_soa, to_soa;
    std::vector<Change> deleted, added;
};

// Hears of each NOTIFY (RFC 1996) a secondary zone's primary sends; called
// from the worker that answered it.
class NotifyListener {
  public:
    virtual ~NotifyListener() = default;
    virtual void notified(std::string_view origin, const common::IpAddress& from) const = 0;
};

struct Zone {
    std::string origin;  // lower-case wire
    std::uint8_t origin_labels = 0;
    std::string file;
    NodeMap nodes;
    const Node* apex = nullptr;
    const RRset* soa = nullptr;
    std::uint32_t negative_ttl = 0;  // RFC 2308 section 5: min(SOA TTL, SOA MINIMUM)
    std::uint32_t serial = 0;
    // Its records (the SOA's serial left out) and what its computed names
    // export to secondaries, hashed by seal(): a reload that changes them must
    // change the serial too, or secondaries keep the old.
    std::uint64_t content_hash = 0;
    std::uint64_t dynamic_hash = 0;  // of the computed names' exports alone
    // The differences that lead to this version, oldest first, ending at
    // `serial` (empty: an IXFR gets the whole zone).
    std::vector<std::shared_ptr<const ZoneDiff>> history;
    // Who may transfer it (AXFR): empty, nobody.
    std::vector<common::Prefix> allow_transfer;
    // With keys, transfers must be signed with one of them (TSIG).
    std::vector<std::shared_ptr<const TsigKey>> transfer_keys;
    // A secondary zone with no copy yet, or past its SOA expire: it has no
    // records (apex and soa are null) and every query in it gets SERVFAIL.
    bool unavailable = false;
    // A secondary zone: its primaries, the only senders whose NOTIFY is
    // acknowledged, and who is told of it.
    std::vector<common::IpAddress> notify_from;
    std::shared_ptr<const NotifyListener> on_notify;

    // The lookup index over `nodes`, built by seal() once no more names are
    // added (ZoneSet::add seals). Until then, or if names were added after,
    // node() falls back to the map: slower, never wrong.
    NameIndex<const Node*> index;
    void seal();  // idempotent
    bool sealed = false;

    const Node* node(std::string_view name) const {
        if (index.size() == nodes.size()) {
            const auto* n = index.find(name);
            return n ? *n : nullptr;
        }
        auto it = nodes.find(name);
        return it == nodes.end() ? nullptr : &it->second;
    }
};

enum class LookupKind { kAnswer, kNxDomain, kReferral };

struct LookupResult {
    LookupKind kind = LookupKind::kNxDomain;
    const Node* node =
        nullptr;  // kAnswer: the node (the wildcard's, if synthesised); kReferral: the cut
    std::string_view cut_name;  // kReferral: owner of the NS RRset
    bool wildcard = false;
};

// Finds `name` in `zone` (which must contain it): walks down from the apex so
// that a zone cut above the name is found first (a referral), then the exact
// node, else the wildcard at the closest encloser (RFC 4592), else NXDOMAIN.
// `ds_at_cut`: a DS query is answered by the parent side of a cut (RFC 4035 3.1.4.1).
LookupResult lookup(const Zone& zone, const NameRef& name, bool ds_at_cut);

// All served zones, found by longest suffix match.
class ZoneSet {
  public:
    // Seals the zone (builds its lookup index): add a zone once it is complete.
    void add(std::shared_ptr<Zone> z);
    // The zone of the longest origin that `name` is at or below, or nullptr.
    const Zone* find(const NameRef& name) const;
    std::size_t size() const { return list_.size(); }
    const std::vector<std::shared_ptr<const Zone>>& all() const { return list_; }

  private:
    NameIndex<const Zone*> index_;  // by origin
    std::vector<std::shared_ptr<const Zone>> list_;
    std::uint8_t min_labels_ = 255, max_labels_ = 0;
};

// Serves `serial` in the zone's SOA (before record_history; the content
// hash leaves the serial out, so it stays right).
void set_serial(Zone& z, std::uint32_t serial);

// Gives `next` the history of `prev` plus the difference between them, when
// next is prev's successor (a higher serial), their computed names export
// the same, and the difference is at most `max_changes` records; at most
// `max_versions` steps are kept. Call between loading and sealing `next`...
// after sealing both (the hashes are made by seal()).
void record_history(Zone& next, const Zone& prev, std::size_t max_versions = 16,
                    std::size_t max_changes = 100000);

// Text form of a wire name ("www.example.net."), for logs and errors.
std::string name_to_text(const std::uint8_t* wire);

}  // namespace zone
}  // namespace signpost::dnsd
