#pragma once
// dnsd's configuration: one TOML file, human-edited and diff-friendly; every
// error names file:line and the value. See maps/dnsd.toml.example.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.hpp"
#include "common/log.hpp"
#include "common/privileges.hpp"
#include "dnsd/redirect/nodes.hpp"
#include "dnsd/server/rrl.hpp"
#include "dnsd/wire/cookie.hpp"
#include "dnsd/wire/tsig.hpp"
#include "dnsd/wire/wire.hpp"

namespace signpost::dnsd {
inline namespace server {

struct ListenAddress {
    common::IpAddress address;
    std::uint16_t port = 53;
    std::string text() const;
};

struct ZoneConfig {
    std::string name;  // "cdn.example.net"
    std::string file;  // absolute, or resolved against the config file's directory
    // Who may transfer the zone (AXFR, over TCP): addresses and prefixes.
    std::vector<common::Prefix> allow_transfer;
    // Secondaries told by NOTIFY when a reload changes the zone's serial
    // (BIND's also-notify; NSD's and Knot's notify).
    std::vector<ListenAddress> notify;
    // Also the zone's own name servers: the in-zone addresses of its apex NS
    // targets, port 53, the SOA's MNAME left out (RFC 1996 3.6; BIND's
    // "notify yes").
    bool notify_ns = false;
    // With keys, a transfer must also be signed (TSIG) with one of them.
    std::vector<std::string> transfer_key_names;
    std::vector<std::shared_ptr<const TsigKey>> transfer_keys;
    // A secondary zone: transferred from these primaries (IXFR, else AXFR),
    // its copy kept in `file`; their NOTIFYs are acknowledged.
    std::vector<ListenAddress> primaries;
    std::string primary_key_name;  // [[keys]] name signing the SOA queries and transfers
    std::shared_ptr<const TsigKey> primary_key;
    bool secondary() const { return !primaries.empty(); }
    // The serial served: the file's, or one dnsd raises when the records change.
    enum class SerialPolicy { kFile, kUnixtime };
    SerialPolicy serial = SerialPolicy::kFile;
    int line = 0;  // where it was configured
};

// Defaults are these member initializers, and only these: the schema
// (config.cpp) shows them in the generated reference.
struct Config {
    std::string path;
    std::vector<ListenAddress> listen{ListenAddress{common::IpAddress::v4(0x7f000001), 53}};
    unsigned threads = 0;  // 0: one per core
    std::uint16_t edns_payload = kDefaultEdnsPayload;
    std::string nsid;     // EDNS NSID (RFC 5001) sent to clients that ask; empty: none
    bool cookies = true;  // answer DNS Cookies (RFC 7873)
    std::optional<CookieSecret> cookie_secret;  // RFC 9018 secret; none: random per process
    unsigned tcp_idle_timeout_ms = 10000;
    unsigned tcp_max_connections = 1024;
    unsigned tcp_max_per_client = 32;
    // SO_RCVBUF of each UDP socket: what a burst can queue while the worker
    // is busy. 0 leaves the kernel's default (net.core.rmem_default).
    unsigned udp_rcvbuf = 4u << 20;
    std::string control_socket;
    common::SocketAccess control_access;  // its mode and group
    std::string metrics_listen;           // "127.0.0.1:9153" ("9153": loopback), empty: none
    // Run as this user (and group) once every socket is bound; empty: as started.
    std::string user, group;
    common::LogLevel log_level = common::LogLevel::kInfo;
    RrlConfig rrl;  // [rrl]
    std::vector<ZoneConfig> zones;
    std::vector<std::shared_ptr<const TsigKey>> keys;  // [[keys]]: TSIG keys
    EdgeSet edges;  // [[nodes]], [maps.*], [[redirects]], [geoip]
};

// Parses `path`; nullopt with `error` ("file:line: ...") on any problem.
std::optional<Config> load_config(const std::string& path, std::string& error);

// The [server] settings that differ between two configs and that apply only
// when dnsd starts (sockets, threads, TCP limits): "listen", "threads", ...
// A reload applies everything else; these it names in a warning.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

// Every key of the config file, generated from the schema (Markdown):
// `dnsd --print-config-reference`, docs/config-reference.md.
std::string config_reference();
// The same as the dnsd.toml(5) manual page (roff, man(7) macros):
// `dnsd --print-config-reference=man`.
std::string config_manual();

// "127.0.0.1:53", "[::1]:5353"; nullopt if malformed.
std::optional<ListenAddress> parse_listen(const std::string& text);

}  // namespace server
}  // namespace signpost::dnsd
