#pragma once
// redirectd's configuration: the same file as dnsd's. The nodes, maps,
// redirects, [geoip] and [health] are read by dnsd's own loader (so both
// daemons decide from the same data by the same rules); [http] and its
// [[http.hosts]] are redirectd's, and each node a host can send clients to
// needs an `http_base`. Every error names file:line and the value.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.hpp"
#include "dnsd/redirect/nodes.hpp"

namespace signpost::redirectd {

// A host name answered with redirects, and the [[redirects]] entry deciding.
struct HostRoute {
    std::string host;      // lower case, no trailing dot
    std::string redirect;  // a [[redirects]] name
    unsigned status = 0;   // 0: [http] status
    std::size_t redirect_index = 0;
    int line = 0;
};

struct HttpConfig {
    std::string path;
    std::vector<common::HostPort> listen{{common::IpAddress::v4(0x7f000001), 8080}};
    // HTTPS (TLS over OpenSSL): off unless tls_listen names an address.
    std::vector<common::HostPort> tls_listen;
    std::string tls_certificate;  // PEM, the chain (absolute, or from the config's directory)
    std::string tls_key;          // PEM private key
    unsigned threads = 0;         // 0: one per core
    unsigned status = 302;
    std::vector<common::Prefix> trusted_proxies;
    std::string client_header = "X-Forwarded-For";  // or "Forwarded"
    bool client_header_is_forwarded() const { return client_header == "Forwarded"; }
    unsigned max_connections = 10000;
    unsigned max_per_client = 256;
    unsigned header_timeout_ms = 5000;
    unsigned idle_timeout_ms = 30000;
    unsigned max_header_bytes = 8192;
    std::string metrics_listen;
    std::string user, group;
    std::string log_level = "info";
    std::vector<HostRoute> hosts;
    dnsd::EdgeSet edges;

    const HostRoute* route(std::string_view host) const;
};

std::optional<HttpConfig> load_http_config(const std::string& path, std::string& error);
// [http] keys a reload cannot change (the sockets, threads, limits bound at start).
std::vector<std::string> restart_only_changes(const HttpConfig& a, const HttpConfig& b);
// The [http] and [[http.hosts]] reference, Markdown.
std::string http_reference();

}  // namespace signpost::redirectd
