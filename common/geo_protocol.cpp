#include "common/geo_protocol.hpp"

namespace signpost::common {

namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    return s;
}
}  // namespace

Request parse_request(std::string_view line) {
    Request r;
    line = trim(line);
    if (line.empty()) {
        r.error = "empty request";
        return r;
    }
    if (line.size() > kMaxRequestLine) {
        r.error = "request too long";
        return r;
    }
    // Addresses first: they are nearly every request, and start with a hex
    // digit or ':' where the commands start with other letters.
    const char c0 = line.front();
    const bool addr_like = (c0 >= '0' && c0 <= '9') || c0 == ':' || (c0 >= 'a' && c0 <= 'f') ||
                           (c0 >= 'A' && c0 <= 'F');
    if (addr_like) {
        if (const auto addr = IpAddress::parse(line)) {
            r.kind = RequestKind::kLookup;
            r.address = addr->unmapped();
            return r;
        }
    }
    if (line == "info") {
        r.kind = RequestKind::kInfo;
        return r;
    }
    if (line == "stats") {
        r.kind = RequestKind::kStats;
        return r;
    }
    if (line == "table") {
        r.kind = RequestKind::kTable;
        return r;
    }
    if (line == "subscribe") {
        r.kind = RequestKind::kSubscribe;
        return r;
    }
    if (line.starts_with("lookup ")) line = trim(line.substr(7));
    const auto addr = IpAddress::parse(line);
    if (!addr) {
        r.error =
            "bad address or unknown command (expected an IPv4/IPv6 address, info, stats, table or "
            "subscribe)";
        return r;
    }
    r.kind = RequestKind::kLookup;
    r.address = addr->unmapped();
    return r;
}

}  // namespace signpost::common
