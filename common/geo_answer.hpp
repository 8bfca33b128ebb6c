#pragma once
// What geoipd knows about one address, and its JSON line form. The same type
// is written by geoipd and read by every client (geoipctl, dnsd), so the wire
// format has exactly one definition.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/ip_address.hpp"

namespace signpost::common {

struct GeoAnswer {
    IpAddress ip;           // the address asked (IPv4-mapped addresses are answered as IPv4)
    Prefix prefix;          // every address in it has the same answer: safe to cache by it
    bool found = false;     // false: no database has data for the address
    std::string country;    // ISO 3166-1 alpha-2, upper case; empty when unknown
    std::string continent;  // two-letter code (AF AN AS EU NA OC SA); empty when unknown
    std::uint32_t asn = 0;  // 0 when unknown (AS0 is reserved, RFC 7607)
    std::string as_org;
    bool has_location = false;
    double latitude = 0;
    double longitude = 0;
    // The database's accuracy radius of the location, in km (MaxMind's
    // location.accuracy_radius); 0 when unknown or without a location.
    std::uint32_t accuracy_radius = 0;
    std::uint64_t generation = 0;  // geoipd's database generation that answered

    friend bool operator==(const GeoAnswer&, const GeoAnswer&) = default;
};

// Same fields, borrowed: geoipd fills one from database memory without copying.
struct GeoFactsView {
    IpAddress ip;
    Prefix prefix;
    bool found = false;
    std::string_view country;
    std::string_view continent;
    std::uint32_t asn = 0;
    std::string_view as_org;
    bool has_location = false;
    double latitude = 0;
    double longitude = 0;
    std::uint32_t accuracy_radius = 0;
    std::uint64_t generation = 0;
};

GeoFactsView view_of(const GeoAnswer& a);

// Appends one response line (with its '\n'):
// {"ip":"..","prefix":"../n","found":true,"country":"GB","continent":"EU",
//  "asn":null,"as_org":null,"latitude":51.5,"longitude":-0.09,"accuracy_radius":20,
//  "generation":3}  (accuracy_radius null when unknown)
void append_answer_json(std::string& out, const GeoFactsView& facts);

// Appends an error line: {"error":"what","input":"the request, escaped"}.
void append_error_json(std::string& out, std::string_view what, std::string_view input);

// Parses a response line. Returns an empty string on success; for an error
// line, the error text prefixed with "geoipd: "; otherwise what is malformed.
// geoipd's own canonical line is read by a fast path; anything else (other
// member order, spacing, escapes) by the generic JSON reader, with the same result.
std::string parse_answer_json(std::string_view line, GeoAnswer& out);
// The generic reader alone (for tests and fuzzing: both must agree).
std::string parse_answer_json_generic(std::string_view line, GeoAnswer& out);

}  // namespace signpost::common
