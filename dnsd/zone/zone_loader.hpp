#pragma once
// Reads an RFC 1035 master file with ldns (at load time only) and builds the
// immutable Zone. Every problem is reported as "file:line: what" and the
// zone is refused: a reload never serves a half-understood zone.

#include <memory>
#include <string>
#include <vector>

#include "dnsd/zone/zone.hpp"

namespace signpost::dnsd {
inline namespace zone {

struct ZoneLoadResult {
    std::shared_ptr<Zone> zone;  // null on error
    std::string error;           // "file:line: ..." when zone is null
    std::vector<std::string> warnings;
};

// `origin_text`: the zone's name ("cdn.example.net"); `default_ttl` for
// records before any $TTL.
ZoneLoadResult load_zone_file(const std::string& origin_text, const std::string& path,
                              std::uint32_t default_ttl = 3600);

// Parses a domain name in text form into lower-case wire form; empty on error.
std::string text_to_wire(const std::string& text);

}  // namespace zone
}  // namespace signpost::dnsd
