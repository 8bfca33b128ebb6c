#pragma once
// The geo table: what geoipd knows about every address, compiled once per
// database generation into one flat, sealed, position-independent image that
// other processes map read-only (docs/geo-table.md has the byte layout).
//
// For each family the table is a list of ranges that partitions the whole
// address space: range i runs from start[i] to start[i+1] - 1 (the last one
// to the family's last address), start[0] is 0, starts strictly ascend, and
// neighbouring ranges have different facts. Each range points at one
// interned fact record (country, continent, ASN, AS organisation, location,
// found or not).
//
// GeoTable is the reader: it validates an image completely before anything
// uses it (a corrupt, truncated, unsealed or foreign image is refused with a
// reason, never crashes a reader), then answers lookups. TableBuilder writes
// images; write_sealed_memfd() puts one into a sealed memfd.

#include <bit>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/geo_answer.hpp"
#include "common/ip_address.hpp"

namespace signpost::common {

static_assert(std::endian::native == std::endian::little,
              "the geo table layout is little-endian; a big-endian port must swap");

__extension__ typedef unsigned __int128 Uint128;

// An address as an unsigned integer of its family's width (IPv4 in the low 32 bits).
Uint128 address_value(const IpAddress& a);
IpAddress address_from_value(Family f, Uint128 v);
// The shortest prefix length around `x` whose network lies wholly inside
// [lo, hi] (all of the family's `bits` wide; lo <= x <= hi).
unsigned prefix_len_within(Uint128 x, Uint128 lo, Uint128 hi, unsigned bits);

// An IPv6 range whose fact index has this bit set is an alias of the IPv4
// table (as a database's ::/96, 6to4 2002::/16 or Teredo 2001::/32 subtrees
// are its IPv4 tree): the range is exactly one prefix of length d (the index's
// low 7 bits, d <= 96), and an address in it has the facts of the IPv4
// address in its 32 bits after bit d. One range instead of a copy of every
// IPv4 range.
inline constexpr std::uint32_t kIpv4Alias = 0x80000000u;
inline bool is_ipv4_alias(std::uint32_t fact_index) {
    return fact_index & kIpv4Alias;
}
inline unsigned alias_offset(std::uint32_t fact_index) {
    return fact_index & 0x7fu;
}
// The IPv4 address an IPv6 address in an alias at offset d carries.
inline std::uint32_t aliased_ipv4(Uint128 v6, unsigned d) {
    return static_cast<std::uint32_t>(v6 >> (96 - d));
}

// Sorted range starts (the first is 0), searched the same way by the table's
// reader and by dnsd's decision ranges. start_of(i) is range i's first address.
//
// The range holding `first`, scanning on from range `from` (call with
// ascending `first` to build an index in one pass).
template <class T, class StartOf>
std::size_t range_holding_from(std::size_t from, std::size_t n, T first, const StartOf& start_of) {
    while (from + 1 < n && start_of(from + 1) <= first) ++from;
    return from;
}
// For each value of an address's top 16 bits (`shift` = width - 16), the
// range holding that block's first address; a 65,537th entry closes the last.
template <class T, class StartOf>
std::vector<std::uint32_t> block_index(std::size_t n, unsigned shift, const StartOf& start_of) {
    std::vector<std::uint32_t> index(65537);
    std::size_t r = 0;
    for (std::uint32_t hi = 0; hi < 65536; ++hi) {
        r = range_holding_from(r, n, static_cast<T>(static_cast<T>(hi) << shift), start_of);
        index[hi] = static_cast<std::uint32_t>(r);
    }
    index[65536] = static_cast<std::uint32_t>(n - 1);
    return index;
}
// The last range in [lo, hi] starting at or before x (start_of(lo) <= x):
// conditional moves, no branches on the data, so a lookup costs its loads
// and no mispredictions.
// One halving of that search over the n ranges from lo (n > 1): a batch
// searching in lanes takes each lane a step at a time.
template <class T, class StartOf, class N>
void range_search_step(N& lo, N& n, T x, const StartOf& start_of) {
    const N half = n / 2;
    lo = start_of(lo + half) <= x ? lo + half : lo;
    n -= half;
}
template <class T, class StartOf>
std::size_t last_range_at_or_before(std::size_t lo, std::size_t hi, T x, const StartOf& start_of) {
    for (std::size_t n = hi - lo + 1; n > 1;) range_search_step(lo, n, x, start_of);
    return lo;
}

inline constexpr char kGeoTableMagic[8] = {'S', 'P', 'G', 'E', 'O', 'T', 'B', 'L'};
// Layout 2 added the accuracy radius to the fact record; layout 1 images (the
// field reserved, 0) are still read, their radius unknown.
inline constexpr std::uint32_t kGeoTableVersion = 2;
inline constexpr std::uint32_t kGeoTableOldestVersion = 1;

// Fixed-size header at offset 0. Offsets are from the start of the image and
// 8-aligned; the checksum is table_checksum() of the whole image with this
// field taken as zero.
struct GeoTableHeader {
    char magic[8];
    std::uint32_t version;
    std::uint32_t header_size;  // sizeof(GeoTableHeader): 128
    std::uint64_t generation;   // geoipd's database generation
    std::uint64_t built_unix;   // when it was compiled (seconds since the epoch)
    std::uint64_t total_size;   // of the image, a multiple of 8
    std::uint32_t v4_count;     // ranges
    std::uint32_t v6_count;
    std::uint32_t fact_count;
    std::uint32_t strings_size;
    std::uint64_t v4_starts;  // u32[v4_count]
    std::uint64_t v4_facts;   // u32[v4_count]: fact index per range
    std::uint64_t v6_starts;  // u64[2 * v6_count]: (high, low) halves per range
    std::uint64_t v6_facts;   // u32[v6_count]
    std::uint64_t facts;      // GeoTableFact[fact_count]
    std::uint64_t strings;    // UTF-8 bytes, strings_size of them
    std::uint64_t checksum;
    std::uint8_t reserved[16];
};
static_assert(sizeof(GeoTableHeader) == 128);

struct GeoTableFact {
    static constexpr std::uint32_t kFound = 1, kHasLocation = 2;
    std::uint32_t flags;
    std::uint32_t asn;              // 0: unknown
    char country[2];                // ISO 3166-1 alpha-2; NUL NUL: unknown
    char continent[2];              // NUL NUL: unknown
    std::uint32_t as_org_len;       // 0: unknown
    std::uint32_t as_org_off;       // into the strings section
    std::uint32_t accuracy_radius;  // km, with kHasLocation; 0: unknown
    double latitude;
    double longitude;
};
static_assert(sizeof(GeoTableFact) == 40);

// Word-wise over the image (its size is a multiple of 8), the checksum field as zero.
std::uint64_t table_checksum(const std::uint8_t* data, std::size_t size);

class GeoTable {
  public:
    // Maps a table memfd (or file) read-only and validates it. Takes ownership
    // of `fd` (closed on failure too). With `require_sealed`, a memfd whose
    // seals do not forbid writing, growing and shrinking is refused: a writer
    // could otherwise change it under the reader.
    static std::shared_ptr<const GeoTable> map_fd(int fd, bool require_sealed, std::string& error);
    // Validates a copy of `bytes` (tests, fuzzing, files read whole).
    static std::shared_ptr<const GeoTable> from_bytes(std::string_view bytes, std::string& error);
    ~GeoTable();
    GeoTable(const GeoTable&) = delete;
    GeoTable& operator=(const GeoTable&) = delete;

    const GeoTableHeader& header() const { return *reinterpret_cast<const GeoTableHeader*>(data_); }
    std::uint64_t generation() const { return header().generation; }
    const std::uint8_t* data() const { return data_; }
    std::size_t size() const { return size_; }
    int fd() const { return fd_; }  // -1 when built from bytes

    std::size_t range_count(Family f) const {
        return f == Family::kV4 ? header().v4_count : header().v6_count;
    }
    // Range i: its first address as a value, and its fact index (for IPv6,
    // possibly an IPv4 alias: is_ipv4_alias()).
    Uint128 range_start(Family f, std::size_t i) const;
    std::uint32_t range_fact(Family f, std::size_t i) const {
        return (f == Family::kV4 ? v4_facts_ : v6_facts_)[i];
    }
    // The last address of range i.
    Uint128 range_end(Family f, std::size_t i) const;
    std::size_t fact_count() const { return header().fact_count; }
    const GeoTableFact& fact(std::uint32_t i) const { return facts_[i]; }
    std::string_view as_org(const GeoTableFact& f) const {
        return {strings_ + f.as_org_off, f.as_org_len};
    }

    // The range holding `a` (IPv4-mapped IPv6 is looked up as IPv4).
    std::size_t find_range(const IpAddress& a) const;
    // Everything known about `a`; the prefix is the widest one around `a`
    // inside its range (every address in it has the same facts; in an IPv4
    // alias, the alias's length plus the IPv4 range's prefix).
    GeoFactsView lookup(const IpAddress& a) const;
    // The same facts as a view (prefix left empty).
    void fill(const GeoTableFact& f, GeoFactsView& out) const;

    // Drops this process's resident pages of a mapped table (the data stays
    // in the memfd, and a later access faults it back in): for a reader that
    // has compiled what it needs and only looks things up rarely.
    void release_pages() const;

    // One JSON object (no newline): generation, size, ranges, facts, checksum, built.
    std::string describe_json() const;

  private:
    GeoTable() = default;
    bool validate(std::string& error);
    std::size_t find_unmapped(const IpAddress& a) const;

    const std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    int fd_ = -1;
    bool mapped_ = false;
    std::vector<std::uint64_t> owned_;  // from_bytes: the copy, 8-aligned
    const std::uint32_t* v4_starts_ = nullptr;
    const std::uint32_t* v4_facts_ = nullptr;
    const std::uint64_t* v6_starts_ = nullptr;
    const std::uint32_t* v6_facts_ = nullptr;
    const GeoTableFact* facts_ = nullptr;
    const char* strings_ = nullptr;
    // Built on load: for each value of an IPv4 address's top 16 bits, the
    // index of the range holding its first address (65,537 entries), so a
    // lookup searches a few ranges instead of all.
    std::vector<std::uint32_t> v4_index_;
    std::vector<std::uint32_t> v6_index_;  // the same on an IPv6 address's top 16 bits
};

// Writes tables. Facts are interned (equal facts share one record); ranges
// are added in ascending order per family, and a range with the same fact as
// the one before it merges into it.
class TableBuilder {
  public:
    // found, country (2 letters or empty), continent, asn, as_org, location.
    std::uint32_t intern(const GeoFactsView& f);
    void add(Family family, Uint128 start, std::uint32_t fact);
    // An IPv6 range that is exactly the prefix (start, len) and aliases the
    // IPv4 table (the next range must start where the prefix ends).
    void add_ipv4_alias(Uint128 start, unsigned len);
    std::size_t ranges(Family family) const {
        return family == Family::kV4 ? v4_.size() : v6_.size();
    }
    // The image. The first range of each family must start at 0 (a family
    // with no range added gets one range of the not-found fact).
    std::string finish(std::uint64_t generation, std::uint64_t built_unix);

  private:
    std::vector<GeoTableFact> facts_;
    std::string strings_;
    std::unordered_map<std::string, std::uint32_t> index_;  // encoded fact -> its index
    std::vector<std::pair<std::uint32_t, std::uint32_t>> v4_;
    std::vector<std::pair<Uint128, std::uint32_t>> v6_;
};

// Creates a memfd holding `image`, sealed against writing, growing, shrinking
// and further sealing. Returns the fd, or -1 with `error`.
int write_sealed_memfd(std::string_view image, std::string& error);

}  // namespace signpost::common
