#pragma once
// Which paths in a database's records hold the facts we answer with. MaxMind
// GeoIP2/GeoLite2 and DB-IP lite nest them ("country" -> "iso_code"); the
// ip-location-db files are flat ("country_code"). The paths are found by
// looking at real records, not trusted from the file name or database_type.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace signpost::geoipd {

// kAccuracy: the location's accuracy radius in km (MaxMind's location.accuracy_radius).
enum class Field { kCountry, kContinent, kAsn, kAsOrg, kLatitude, kLongitude, kAccuracy };
inline constexpr std::size_t kFieldCount = 7;

std::string_view field_name(Field f);
std::optional<Field> field_from_name(std::string_view name);

// What value type a field must have in the database.
enum class ValueKind { kString, kUnsigned, kDouble };
ValueKind value_kind(Field f);

// A dotted path ("country.iso_code") prepared once as the NUL-terminated
// array libmaxminddb's MMDB_aget_value wants, so lookups never build strings.
class FieldPath {
  public:
    static std::optional<FieldPath> parse(std::string_view dotted);
    FieldPath(const FieldPath& o) : parts_(o.parts_) { rebuild(); }
    FieldPath& operator=(const FieldPath& o) {
        parts_ = o.parts_;
        rebuild();
        return *this;
    }
    const char* const* c_path() const { return ptrs_.data(); }
    std::string dotted() const;

  private:
    FieldPath() = default;
    void rebuild();
    std::vector<std::string> parts_;
    std::vector<const char*> ptrs_;
};

// The candidate paths tried for each field, most common layout first.
const std::vector<std::string>& default_candidates(Field f);

struct Schema {
    std::array<std::optional<FieldPath>, kFieldCount> paths;
    const std::optional<FieldPath>& operator[](Field f) const {
        return paths[static_cast<std::size_t>(f)];
    }
    std::optional<FieldPath>& operator[](Field f) { return paths[static_cast<std::size_t>(f)]; }
    bool empty() const;
    // "city" (country + location), "country", "asn", "country+asn"...: for logs and info.
    std::string kind() const;
};

// Per-database overrides, from "--db FILE,country=country.iso_code,asn=asn".
struct DatabaseSpec {
    std::string path;
    std::vector<std::pair<Field, FieldPath>> overrides;
    // Parses the option value; on failure returns nullopt and sets `error`.
    static std::optional<DatabaseSpec> parse(std::string_view text, std::string& error);
};

}  // namespace signpost::geoipd
