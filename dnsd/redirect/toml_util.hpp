#pragma once
// What both TOML readers (server/config.cpp, redirect/nodes_config.cpp) need for their errors.

#include <toml++/toml.h>
#include <string>

namespace signpost::dnsd {

inline int line_of(const toml::node& n) {
    return static_cast<int>(n.source().begin.line);
}

// The value as the operator wrote it, near enough, for error messages.
inline std::string describe(const toml::node& n) {
    if (const auto* i = n.as_integer()) return std::to_string(i->get());
    if (const auto* s = n.as_string()) return "\"" + s->get() + "\"";
    if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
    if (const auto* f = n.as_floating_point()) return std::to_string(f->get());
    if (n.is_array()) return "an array";
    if (n.is_table()) return "a table";
    return "a value";
}

}  // namespace signpost::dnsd
