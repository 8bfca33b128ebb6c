#include "dnsd/config/schema.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace signpost::dnsd::config {

std::string Problem::text() const {
    return file + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what;
}

toml::table parse_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Problem{path, 0, std::string("cannot read: ") + std::strerror(errno)};
    std::stringstream text;
    text << in.rdbuf();
    if (in.bad()) throw Problem{path, 0, std::string("cannot read: ") + std::strerror(errno)};
    try {
        return toml::parse(text.str(), path);
    } catch (const toml::parse_error& e) {
        throw Problem{path, static_cast<int>(e.source().begin.line), std::string(e.description())};
    }
}

int line_of(const toml::node& n) {
    return static_cast<int>(n.source().begin.line);
}

std::string describe(const toml::node& n) {
    if (const auto* i = n.as_integer()) return std::to_string(i->get());
    if (const auto* s = n.as_string()) return "\"" + s->get() + "\"";
    if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
    if (const auto* f = n.as_floating_point()) return std::to_string(f->get());
    if (n.is_array()) return "an array";
    if (n.is_table()) return "a table";
    return "a value";
}

std::string toml_string(std::string_view s) {
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

std::string man_text(std::string_view markdown) {
    std::string out;
    bool code = false;
    for (const char c : markdown) {
        if (c == '`') {
            code = !code;
            out += code ? "\\fB" : "\\fP";
            continue;
        }
        // A line starting with . or ' would be a request.
        if ((c == '.' || c == '\'') && (out.empty() || out.back() == '\n')) out += "\\&";
        if (c == '\\')
            out += "\\e";
        else if (c == '-' && code)
            out += "\\-";  // an ASCII minus in a command or value, not a hyphen
        else
            out += c;
    }
    return code ? out + "\\fP" : out;
}

void Source::fail(const toml::node& n, const std::string& what) const {
    throw Problem{file, line_of(n), what};
}

void Source::fail(int line, const std::string& what) const {
    throw Problem{file, line, what};
}

}  // namespace signpost::dnsd::config
