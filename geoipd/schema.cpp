#include "geoipd/schema.hpp"

namespace signpost::geoipd {

namespace {
constexpr std::array<std::string_view, kFieldCount> kNames = {
    "country", "continent", "asn", "as_org", "latitude", "longitude", "accuracy_radius"};
}

std::string_view field_name(Field f) {
    return kNames[static_cast<std::size_t>(f)];
}

std::optional<Field> field_from_name(std::string_view name) {
    for (std::size_t i = 0; i < kFieldCount; ++i)
        if (kNames[i] == name) return static_cast<Field>(i);
    return std::nullopt;
}

ValueKind value_kind(Field f) {
    switch (f) {
        case Field::kAsn:
        case Field::kAccuracy:
            return ValueKind::kUnsigned;
        case Field::kLatitude:
        case Field::kLongitude:
            return ValueKind::kDouble;
        default:
            return ValueKind::kString;
    }
}

std::optional<FieldPath> FieldPath::parse(std::string_view dotted) {
    FieldPath p;
    while (!dotted.empty()) {
        auto dot = dotted.find('.');
        auto part = dotted.substr(0, dot);
        if (part.empty()) return std::nullopt;
        p.parts_.emplace_back(part);
        if (dot == std::string_view::npos) break;
        dotted.remove_prefix(dot + 1);
        if (dotted.empty()) return std::nullopt;  // trailing dot
    }
    if (p.parts_.empty()) return std::nullopt;
    p.rebuild();
    return p;
}

void FieldPath::rebuild() {
    ptrs_.clear();
    for (const auto& s : parts_) ptrs_.push_back(s.c_str());
    ptrs_.push_back(nullptr);
}

std::string FieldPath::dotted() const {
    std::string s;
    for (const auto& p : parts_) {
        if (!s.empty()) s.push_back('.');
        s += p;
    }
    return s;
}

const std::vector<std::string>& default_candidates(Field f) {
    // GeoIP2/GeoLite2 and DB-IP lite first, then the flat ip-location-db names.
    // registered_country is the last resort for country: it is where the block
    // is registered, used by MaxMind for anycast and satellite blocks.
    static const std::array<std::vector<std::string>, kFieldCount> kCandidates = {{
        {"country.iso_code", "country_code", "registered_country.iso_code"},
        {"continent.code", "continent_code"},
        {"autonomous_system_number", "asn"},
        {"autonomous_system_organization", "as_organization", "as_org"},
        {"location.latitude", "latitude"},
        {"location.longitude", "longitude"},
        {"location.accuracy_radius", "accuracy_radius"},
    }};
    return kCandidates[static_cast<std::size_t>(f)];
}

bool Schema::empty() const {
    for (const auto& p : paths)
        if (p) return false;
    return true;
}

std::string Schema::kind() const {
    std::string k;
    auto add = [&k](const char* s) {
        if (!k.empty()) k.push_back('+');
        k += s;
    };
    const bool loc = (*this)[Field::kLatitude] && (*this)[Field::kLongitude];
    if ((*this)[Field::kCountry] || (*this)[Field::kContinent])
        add(loc ? "city" : "country");
    else if (loc)
        add("location");
    if ((*this)[Field::kAsn] || (*this)[Field::kAsOrg]) add("asn");
    return k.empty() ? "unknown" : k;
}

std::optional<DatabaseSpec> DatabaseSpec::parse(std::string_view text, std::string& error) {
    DatabaseSpec spec;
    auto comma = text.find(',');
    spec.path = std::string(text.substr(0, comma));
    if (spec.path.empty()) {
        error = "empty database path in '" + std::string(text) + "'";
        return std::nullopt;
    }
    while (comma != std::string_view::npos) {
        text.remove_prefix(comma + 1);
        comma = text.find(',');
        auto item = text.substr(0, comma);
        auto eq = item.find('=');
        auto field =
            eq == std::string_view::npos ? std::nullopt : field_from_name(item.substr(0, eq));
        if (!field) {
            error = "bad field override '" + std::string(item) +
                    "' (expected NAME=PATH, NAME one of country, continent, asn, as_org, "
                    "latitude, longitude, accuracy_radius)";
            return std::nullopt;
        }
        auto path = FieldPath::parse(item.substr(eq + 1));
        if (!path) {
            error = "bad field path '" + std::string(item.substr(eq + 1)) +
                    "' (expected dotted keys like country.iso_code)";
            return std::nullopt;
        }
        spec.overrides.emplace_back(*field, *path);
    }
    return spec;
}

}  // namespace signpost::geoipd
