#pragma once
// Operator overrides of node state, and marks from outside.
//
// Admin state (`dnsdctl node NAME up|down|drain|auto`) persists in a state
// file that dnsd writes atomically (temporary file, fsync, rename, fsync of the
// directory), so it survives a restart. One line per overridden node:
//
//   # NAME MODE SINCE_UNIX_MS [DRAIN_SECONDS]
//   fra1 down 1795000000000
//   ams1 drain 1795000000000 300
//
// A drain keeps its start time, so a ramp interrupted by a restart goes on
// where it was.
//
// The external state file is written by something else (another vantage
// point, a monitoring system) and marks nodes, or single addresses, down:
//
//   # NAME [ADDRESS] down|up [REASON...]
//   fra1 down maintenance window, ticket 4711
//   ams1 2001:db8::10 down IPv6 path broken from probe-3
//   nyc1 up
//
// `up` lines mean "no mark" (so a generator may list every node). Blank lines
// and lines starting with '#' are ignored. A file with a malformed line is
// refused as a whole (the previous marks stay) and the error names file:line;
// a name that is not a configured node is a warning. Replace the file by
// renaming a new one into place.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.hpp"
#include "dnsd/redirect/health_view.hpp"

namespace signpost::dnsd {
inline namespace health {

const char* admin_mode_name(AdminMode m);
std::optional<AdminMode> parse_admin_mode(std::string_view s);

using AdminOverrides = std::map<std::string, AdminOverride>;  // by node name

// The fraction of subnets a node still gets at `now_ms`: 1 unless draining,
// then falling linearly from 1 at `since_ms` to 0 after `drain_s`.
double drain_keep(const AdminOverride& o, std::int64_t now_ms);

std::string format_admin_state(const AdminOverrides& o);
// Lines that do not parse are skipped with a warning naming file:line (this
// file is ours: refusing to start over it would be worse than forgetting one
// override).
AdminOverrides parse_admin_state(std::string_view text, const std::string& file,
                                 std::vector<std::string>& warnings);

struct ExternalMark {
    std::string node;
    std::optional<common::IpAddress> address;  // none: every address of the node
    std::string reason;
    int line = 0;
};
// False with `error` ("file:line: ...") if any line is malformed.
bool parse_external(std::string_view text, const std::string& file, std::vector<ExternalMark>& out,
                    std::string& error);

// Reads a whole (small) file; false with `error` if it cannot.
bool read_small_file(const std::string& path, std::string& out, std::string& error,
                     std::size_t limit = 16 << 20);
// Writes `content` to `path` so that readers see the old or the new file,
// never a part: a temporary file beside it, fsync, rename, fsync of the directory.
bool write_file_atomically(const std::string& path, const std::string& content, std::string& error);

}  // namespace health
}  // namespace signpost::dnsd
