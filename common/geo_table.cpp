#include "common/geo_table.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/json.hpp"

namespace signpost::common {

namespace {

constexpr Uint128 kAll128 = ~Uint128{0};

Uint128 family_max(unsigned bits) {
    return bits == 128 ? kAll128 : (Uint128{1} << bits) - 1;
}

// Leading bits (of `bits`) on which a and b agree.
unsigned common_bits(Uint128 a, Uint128 b, unsigned bits) {
    const Uint128 d = a ^ b;
    if (d == 0) return bits;
    const auto hi = static_cast<std::uint64_t>(d >> 64);
    const auto lo = static_cast<std::uint64_t>(d);
    const unsigned top = hi ? 127u - static_cast<unsigned>(__builtin_clzll(hi))
                            : 63u - static_cast<unsigned>(__builtin_clzll(lo));
    return bits - 1 - top;
}

bool aligned_in(std::uint64_t off, std::uint64_t len, std::uint64_t size) {
    return off % 8 == 0 && off <= size && len <= size - off;
}

}  // namespace

Uint128 address_value(const IpAddress& a) {
    Uint128 v = 0;
    for (std::size_t i = 0; i < a.byte_len(); ++i) v = (v << 8) | a.bytes()[i];
    return v;
}

IpAddress address_from_value(Family f, Uint128 v) {
    std::uint8_t b[16];
    const std::size_t n = f == Family::kV4 ? 4 : 16;
    for (std::size_t i = 0; i < n; ++i) b[n - 1 - i] = static_cast<std::uint8_t>(v >> (8 * i));
    return IpAddress::from_bytes(f, b);
}

unsigned prefix_len_within(Uint128 x, Uint128 lo, Uint128 hi, unsigned bits) {
    // The network of x at length L is >= lo once L covers the first bit
    // where x exceeds lo - 1; its last address is <= hi once L covers the
    // first bit where x falls below hi + 1.
    const unsigned a = lo == 0 ? 0 : common_bits(x, lo - 1, bits) + 1;
    const unsigned b = hi == family_max(bits) ? 0 : common_bits(x, hi + 1, bits) + 1;
    return std::min(std::max(a, b), bits);
}

std::uint64_t table_checksum(const std::uint8_t* data, std::size_t size) {
    std::uint64_t h = 0x5349474e504f5354ULL;  // "SIGNPOST"
    constexpr std::size_t kField = offsetof(GeoTableHeader, checksum);
    for (std::size_t off = 0; off + 8 <= size; off += 8) {
        std::uint64_t w;
        std::memcpy(&w, data + off, 8);
        if (off == kField) w = 0;
        h = (std::rotl(h ^ w, 29) + off) * 0x9e3779b97f4a7c15ULL;
    }
    return h ^ (h >> 32) ^ size;
}

std::shared_ptr<const GeoTable> GeoTable::map_fd(int fd, bool require_sealed, std::string& error) {
    std::shared_ptr<GeoTable> t(new GeoTable());
    t->fd_ = fd;  // closed by the destructor, also on every failure below
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        error = std::string("fstat: ") + std::strerror(errno);
        return nullptr;
    }
    if (require_sealed) {
        const int seals = ::fcntl(fd, F_GET_SEALS);
        const int want = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK;
        if (seals < 0 || (seals & want) != want) {
            error = "not sealed against writing and resizing";
            return nullptr;
        }
    }
    if (st.st_size < static_cast<off_t>(sizeof(GeoTableHeader))) {
        error = "truncated: " + std::to_string(st.st_size) + " bytes, shorter than the header";
        return nullptr;
    }
    void* p = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        error = std::string("mmap: ") + std::strerror(errno);
        return nullptr;
    }
    t->data_ = static_cast<const std::uint8_t*>(p);
    t->size_ = static_cast<std::size_t>(st.st_size);
    t->mapped_ = true;
    if (!t->validate(error)) return nullptr;
    return t;
}

std::shared_ptr<const GeoTable> GeoTable::from_bytes(std::string_view bytes, std::string& error) {
    std::shared_ptr<GeoTable> t(new GeoTable());
    t->owned_.resize((bytes.size() + 7) / 8);
    if (!bytes.empty()) std::memcpy(t->owned_.data(), bytes.data(), bytes.size());
    t->data_ = reinterpret_cast<const std::uint8_t*>(t->owned_.data());
    t->size_ = bytes.size();
    if (t->size_ < sizeof(GeoTableHeader)) {
        error = "truncated: " + std::to_string(t->size_) + " bytes, shorter than the header";
        return nullptr;
    }
    if (!t->validate(error)) return nullptr;
    return t;
}

GeoTable::~GeoTable() {
    if (mapped_) ::munmap(const_cast<std::uint8_t*>(data_), size_);
    if (fd_ >= 0) ::close(fd_);
}

bool GeoTable::validate(std::string& error) {
    const GeoTableHeader& h = header();
    if (std::memcmp(h.magic, kGeoTableMagic, sizeof h.magic) != 0) {
        error = "bad magic: not a signpost geo table";
        return false;
    }
    if (h.version < kGeoTableOldestVersion || h.version > kGeoTableVersion ||
        h.header_size != sizeof(GeoTableHeader)) {
        error = "layout version " + std::to_string(h.version) + " (header " +
                std::to_string(h.header_size) + " bytes); this build reads versions " +
                std::to_string(kGeoTableOldestVersion) + " to " + std::to_string(kGeoTableVersion);
        return false;
    }
    if (h.total_size != size_ || size_ % 8 != 0) {
        error = "truncated or padded: header says " + std::to_string(h.total_size) +
                " bytes, the image has " + std::to_string(size_);
        return false;
    }
    if (h.checksum != table_checksum(data_, size_)) {
        error = "checksum mismatch";
        return false;
    }
    const std::uint64_t n4 = h.v4_count, n6 = h.v6_count, nf = h.fact_count;
    if (n4 == 0 || n6 == 0 || nf == 0 || !aligned_in(h.v4_starts, 4 * n4, size_) ||
        !aligned_in(h.v4_facts, 4 * n4, size_) || !aligned_in(h.v6_starts, 16 * n6, size_) ||
        !aligned_in(h.v6_facts, 4 * n6, size_) ||
        !aligned_in(h.facts, sizeof(GeoTableFact) * nf, size_) ||
        !(h.strings <= size_ && h.strings_size <= size_ - h.strings)) {
        error = "a section lies outside the image or is misaligned";
        return false;
    }
    v4_starts_ = reinterpret_cast<const std::uint32_t*>(data_ + h.v4_starts);
    v4_facts_ = reinterpret_cast<const std::uint32_t*>(data_ + h.v4_facts);
    v6_starts_ = reinterpret_cast<const std::uint64_t*>(data_ + h.v6_starts);
    v6_facts_ = reinterpret_cast<const std::uint32_t*>(data_ + h.v6_facts);
    facts_ = reinterpret_cast<const GeoTableFact*>(data_ + h.facts);
    strings_ = reinterpret_cast<const char*>(data_ + h.strings);
    for (std::uint64_t i = 0; i < nf; ++i) {
        const auto& f = facts_[i];
        if (f.as_org_off > h.strings_size || f.as_org_len > h.strings_size - f.as_org_off) {
            error = "fact " + std::to_string(i) + ": AS organisation outside the strings";
            return false;
        }
        // Layout 1 reserved the radius's bytes (0): readers take the field as
        // it is, so an image that says otherwise is not layout 1.
        if (h.version == 1 && f.accuracy_radius != 0) {
            error = "fact " + std::to_string(i) + ": layout 1 with its reserved field set";
            return false;
        }
    }
    if (v4_starts_[0] != 0 || range_start(Family::kV6, 0) != 0) {
        error = "the first range does not start at address 0";
        return false;
    }
    for (std::uint64_t i = 0; i < n4; ++i) {
        if ((i > 0 && v4_starts_[i] <= v4_starts_[i - 1]) || v4_facts_[i] >= nf) {
            error = "IPv4 range " + std::to_string(i) + ": not ascending or bad fact index";
            return false;
        }
    }
    for (std::uint64_t i = 0; i < n6; ++i) {
        const std::uint32_t f = v6_facts_[i];
        if ((i > 0 && range_start(Family::kV6, i) <= range_start(Family::kV6, i - 1)) ||
            (!is_ipv4_alias(f) && f >= nf)) {
            error = "IPv6 range " + std::to_string(i) + ": not ascending or bad fact index";
            return false;
        }
        if (is_ipv4_alias(f)) {
            const unsigned d = alias_offset(f);
            const Uint128 host = d == 0 ? kAll128 : (Uint128{1} << (128 - d)) - 1;
            const Uint128 s = range_start(Family::kV6, i);
            if (d > 96 || (f & ~(kIpv4Alias | 0x7fu)) != 0 || (s & host) != 0 ||
                range_end(Family::kV6, i) != (s | host)) {
                error = "IPv6 range " + std::to_string(i) +
                        ": an IPv4 alias that is not exactly one prefix of length <= 96";
                return false;
            }
        }
    }
    v4_index_ = block_index<std::uint32_t>(n4, 16, [&](std::size_t i) { return v4_starts_[i]; });
    v6_index_ =
        block_index<Uint128>(n6, 112, [&](std::size_t i) { return range_start(Family::kV6, i); });
    return true;
}

Uint128 GeoTable::range_start(Family f, std::size_t i) const {
    if (f == Family::kV4) return v4_starts_[i];
    return (Uint128{v6_starts_[2 * i]} << 64) | v6_starts_[2 * i + 1];
}

Uint128 GeoTable::range_end(Family f, std::size_t i) const {
    if (i + 1 < range_count(f)) return range_start(f, i + 1) - 1;
    return f == Family::kV4 ? Uint128{0xffffffffu} : kAll128;
}

std::size_t GeoTable::find_range(const IpAddress& addr) const {
    return find_unmapped(addr.unmapped());
}

std::size_t GeoTable::find_unmapped(const IpAddress& a) const {
    const Uint128 x = address_value(a);
    if (a.is_v4()) {
        const auto v = static_cast<std::uint32_t>(x);
        return last_range_at_or_before(v4_index_[v >> 16], v4_index_[(v >> 16) + 1], v,
                                       [&](std::size_t i) { return v4_starts_[i]; });
    }
    const auto block = static_cast<std::uint32_t>(x >> 112);
    return last_range_at_or_before(v6_index_[block], v6_index_[block + 1], x,
                                   [&](std::size_t i) { return range_start(Family::kV6, i); });
}

void GeoTable::fill(const GeoTableFact& f, GeoFactsView& out) const {
    out.found = f.flags & GeoTableFact::kFound;
    out.country = f.country[0] ? std::string_view(f.country, 2) : std::string_view();
    out.continent = f.continent[0] ? std::string_view(f.continent, 2) : std::string_view();
    out.asn = f.asn;
    out.as_org = as_org(f);
    out.has_location = f.flags & GeoTableFact::kHasLocation;
    out.latitude = out.has_location ? f.latitude : 0;
    out.longitude = out.has_location ? f.longitude : 0;
    out.accuracy_radius = out.has_location ? f.accuracy_radius : 0;
    out.generation = generation();
}

GeoFactsView GeoTable::lookup(const IpAddress& addr) const {
    const IpAddress a = addr.unmapped();
    const Family fam = a.family();
    const std::size_t r = find_unmapped(a);
    GeoFactsView v;
    v.ip = a;
    const std::uint32_t f = range_fact(fam, r);
    if (fam == Family::kV6 && is_ipv4_alias(f)) {
        const unsigned d = alias_offset(f);
        const IpAddress v4 = IpAddress::v4(aliased_ipv4(address_value(a), d));
        const GeoFactsView inner = lookup(v4);
        v = inner;
        v.ip = a;
        v.prefix = Prefix(a, d + inner.prefix.length());
        return v;
    }
    fill(fact(f), v);
    const unsigned len =
        prefix_len_within(address_value(a), range_start(fam, r), range_end(fam, r), a.bits());
    v.prefix = Prefix(a, len);
    return v;
}

void GeoTable::release_pages() const {
    if (mapped_) ::madvise(const_cast<std::uint8_t*>(data_), size_, MADV_DONTNEED);
}

std::string GeoTable::describe_json() const {
    const auto& h = header();
    std::string out = "{\"generation\":";
    json::append_uint(out, h.generation);
    out.append(",\"size\":");
    json::append_uint(out, h.total_size);
    out.append(",\"v4_ranges\":");
    json::append_uint(out, h.v4_count);
    out.append(",\"v6_ranges\":");
    json::append_uint(out, h.v6_count);
    out.append(",\"facts\":");
    json::append_uint(out, h.fact_count);
    out.append(",\"built\":");
    json::append_uint(out, h.built_unix);
    out.append(",\"layout_version\":");
    json::append_uint(out, h.version);
    char sum[24];
    std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(h.checksum));
    out.append(",\"checksum\":\"").append(sum).append("\"}");
    return out;
}

// Interning key: every field of the fact, as bytes.
std::uint32_t TableBuilder::intern(const GeoFactsView& v) {
    GeoTableFact f{};
    f.flags =
        (v.found ? GeoTableFact::kFound : 0) | (v.has_location ? GeoTableFact::kHasLocation : 0);
    f.asn = v.asn;
    if (v.country.size() == 2) std::memcpy(f.country, v.country.data(), 2);
    if (v.continent.size() == 2) std::memcpy(f.continent, v.continent.data(), 2);
    if (v.has_location) {
        f.latitude = v.latitude;
        f.longitude = v.longitude;
        f.accuracy_radius = v.accuracy_radius;
    }
    std::string key(reinterpret_cast<const char*>(&f), sizeof f);
    key.append(v.as_org);
    const auto [it, added] = index_.try_emplace(std::move(key), 0);
    if (!added) return it->second;
    f.as_org_off = static_cast<std::uint32_t>(strings_.size());
    f.as_org_len = static_cast<std::uint32_t>(v.as_org.size());
    strings_.append(v.as_org);
    const auto id = static_cast<std::uint32_t>(facts_.size());
    facts_.push_back(f);
    it->second = id;
    return id;
}

void TableBuilder::add_ipv4_alias(Uint128 start, unsigned len) {
    v6_.emplace_back(start, kIpv4Alias | len);  // never merged: each alias is one prefix
}

void TableBuilder::add(Family family, Uint128 start, std::uint32_t fact) {
    if (family == Family::kV4) {
        if (!v4_.empty() && v4_.back().second == fact) return;
        v4_.emplace_back(static_cast<std::uint32_t>(start), fact);
    } else {
        if (!v6_.empty() && v6_.back().second == fact && !is_ipv4_alias(fact)) return;
        v6_.emplace_back(start, fact);
    }
}

std::string TableBuilder::finish(std::uint64_t generation, std::uint64_t built_unix) {
    if (v4_.empty() || v6_.empty()) {
        const std::uint32_t none = intern(GeoFactsView{});
        if (v4_.empty()) v4_.emplace_back(0, none);
        if (v6_.empty()) v6_.emplace_back(0, none);
    }
    auto pad = [](std::uint64_t n) { return (n + 7) & ~std::uint64_t{7}; };
    GeoTableHeader h{};
    std::memcpy(h.magic, kGeoTableMagic, sizeof h.magic);
    h.version = kGeoTableVersion;
    h.header_size = sizeof h;
    h.generation = generation;
    h.built_unix = built_unix;
    h.v4_count = static_cast<std::uint32_t>(v4_.size());
    h.v6_count = static_cast<std::uint32_t>(v6_.size());
    h.fact_count = static_cast<std::uint32_t>(facts_.size());
    h.strings_size = static_cast<std::uint32_t>(strings_.size());
    std::uint64_t off = sizeof h;
    h.v4_starts = off;
    off = pad(off + 4 * v4_.size());
    h.v4_facts = off;
    off = pad(off + 4 * v4_.size());
    h.v6_starts = off;
    off = pad(off + 16 * v6_.size());
    h.v6_facts = off;
    off = pad(off + 4 * v6_.size());
    h.facts = off;
    off = pad(off + sizeof(GeoTableFact) * facts_.size());
    h.strings = off;
    off = pad(off + strings_.size());
    h.total_size = off;
    std::string img(off, '\0');
    auto* base = reinterpret_cast<std::uint8_t*>(img.data());
    for (std::size_t i = 0; i < v4_.size(); ++i) {
        std::memcpy(base + h.v4_starts + 4 * i, &v4_[i].first, 4);
        std::memcpy(base + h.v4_facts + 4 * i, &v4_[i].second, 4);
    }
    for (std::size_t i = 0; i < v6_.size(); ++i) {
        const auto hi = static_cast<std::uint64_t>(v6_[i].first >> 64);
        const auto lo = static_cast<std::uint64_t>(v6_[i].first);
        std::memcpy(base + h.v6_starts + 16 * i, &hi, 8);
        std::memcpy(base + h.v6_starts + 16 * i + 8, &lo, 8);
        std::memcpy(base + h.v6_facts + 4 * i, &v6_[i].second, 4);
    }
    if (!facts_.empty())
        std::memcpy(base + h.facts, facts_.data(), sizeof(GeoTableFact) * facts_.size());
    if (!strings_.empty()) std::memcpy(base + h.strings, strings_.data(), strings_.size());
    std::memcpy(base, &h, sizeof h);
    h.checksum = table_checksum(base, img.size());
    std::memcpy(base, &h, sizeof h);
    return img;
}

int write_sealed_memfd(std::string_view image, std::string& error) {
    const int fd = ::memfd_create("signpost-geo-table", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        error = std::string("memfd_create: ") + std::strerror(errno);
        return -1;
    }
    std::size_t done = 0;
    while (done < image.size()) {
        const ssize_t n =
            ::pwrite(fd, image.data() + done, image.size() - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = std::string("writing the table memfd: ") + std::strerror(errno);
            ::close(fd);
            return -1;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
        error = std::string("sealing the table memfd: ") + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

}  // namespace signpost::common
