#pragma once
// Reads the CDN part of dnsd's TOML config: [[nodes]], [maps.NAME] (inline or
// in their own file, which cron may regenerate), [[redirects]] and [geoip].
// Every error names file:line and the value.

#include <optional>
#include <string>

#include "dnsd/redirect/nodes.hpp"

namespace toml {
inline namespace v3 {
class table;
}
}  // namespace toml

namespace signpost::dnsd::config {
enum class Format;  // dnsd/config/schema.hpp
}  // namespace signpost::dnsd::config

namespace signpost::dnsd {
inline namespace redirect {

// `root`: the parsed config; `path`: its file name (for errors and to resolve
// map files). Returns nullopt with `error` set on any problem.
std::optional<EdgeSet> load_edges(const toml::table& root, const std::string& path,
                                  std::string& error);

// "https://fra1.cdn.example.net:8443" or "http://192.0.2.10" (a path prefix
// may follow): what a redirect's Location starts with; false with `why`.
bool valid_http_base(const std::string& base, std::string& why);

// The schema reference of [geoip], [health], checks, [[nodes]] and
// [[redirects]] (part of config_reference() and config_manual()).
std::string edges_reference(config::Format format);

}  // namespace redirect
}  // namespace signpost::dnsd
