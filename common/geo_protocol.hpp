#pragma once
// The geoipd request line protocol (README "geoipd protocol"). One request per
// line, one response line per request, in order; clients may pipeline.
//
//   81.2.69.142          look up an address (IPv4 or IPv6)
//   lookup 2001:db8::1   the same, spelled out
//   info                 loaded databases: type, file, build epoch, load time, generation
//   stats                counters
//   table                {"table":{generation,size,v4_ranges,...}} with the compiled
//                        geo table's sealed memfd attached (SCM_RIGHTS) to the
//                        first byte of that line (docs/geo-table.md)
//   subscribe            the same answer, then the same line and fd again,
//                        unasked, for each newly published generation (only the
//                        newest when several come at once). Lookups on the
//                        connection keep working; a push never splits another
//                        answer's line. A subscriber that leaves 4 pushed tables
//                        unread (or its answers over the server's pending-output
//                        cap) when a push is due is closed with a log line: an
//                        fd in flight pins the whole image
//
// Lines end in "\n" ("\r\n" is accepted). Anything else gets an error line
// and the connection carries on.

#include <cstddef>
#include <string_view>

#include "common/ip_address.hpp"

namespace signpost::common {

// A request line longer than this is refused (and skipped up to its newline):
// the longest valid request, "lookup " plus a 45-character IPv6 text, is far
// shorter, and the bound keeps one client from making the server buffer without end.
inline constexpr std::size_t kMaxRequestLine = 256;

enum class RequestKind { kLookup, kInfo, kStats, kTable, kSubscribe, kError };

struct Request {
    RequestKind kind = RequestKind::kError;
    IpAddress address;       // kLookup
    std::string_view error;  // kError: a static description
};

// Parses one line without its newline (a trailing '\r' is ignored).
// Never throws, never allocates.
Request parse_request(std::string_view line);

}  // namespace signpost::common
