#pragma once
// dnsd's config schema: every key of a TOML table, once. A row names the key,
// its type and range, where its value goes, whether a change needs a
// restart, and a one-line help; its default is whatever the target struct's
// member initializer says (shown from a default-constructed target, never
// spelled twice). One reader drives from the rows: parsing, range errors,
// unknown-key errors that list the real keys, the restart-only warnings, and
// the generated reference (`dnsd --print-config-reference`,
// docs/config-reference.md). Rules that tie keys together stay as code
// beside the rows.
//
// Errors are thrown as Problem (file:line and what) and caught once per file
// by the reader's entry point.

#include <toml++/toml.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace signpost::dnsd::config {

struct Problem {
    std::string file;
    int line = 0;  // 0: the file as a whole
    std::string what;
    // "file:line: what" (no line when 0)
    std::string text() const;
};

// A TOML file read and parsed; a file that cannot be read says why (errno),
// a syntax error says where. Throws Problem.
toml::table parse_file(const std::string& path);

int line_of(const toml::node& n);
// The value as the operator wrote it, near enough, for error messages.
std::string describe(const toml::node& n);
// A TOML basic string: "text", escaped.
std::string toml_string(std::string_view s);

// Where a table came from, for errors.
struct Source {
    std::string file;
    [[noreturn]] void fail(const toml::node& n, const std::string& what) const;
    [[noreturn]] void fail(int line, const std::string& what) const;
};

template <class T>
struct Key {
    const char* name;
    std::string type;  // "integer 512..4096", "string", "true or false", ...
    const char* help;
    bool restart = false;  // a change applies only when dnsd starts
    std::function<void(T&, const toml::node&, const Source&)> set;
    std::function<std::string(const T&)> show;  // the value as TOML text
};

// Field accessors are generic lambdas: [](auto& c) -> auto& { return c.rrl.slip; }

template <class T, class F>
Key<T> integer(const char* name, F field, long long lo, long long hi, const char* help,
               bool restart = false) {
    Key<T> k{name, "integer " + std::to_string(lo) + ".." + std::to_string(hi), help, restart, {},
             {}};
    k.set = [field, name, lo, hi](T& t, const toml::node& n, const Source& src) {
        const auto* v = n.as_integer();
        if (!v || v->get() < lo || v->get() > hi)
            src.fail(n, std::string(name) + " = " + describe(n) + ": expected an integer " +
                            std::to_string(lo) + ".." + std::to_string(hi));
        using V = std::remove_reference_t<decltype(field(t))>;
        field(t) = static_cast<V>(v->get());
    };
    k.show = [field](const T& t) { return std::to_string(field(t)); };
    return k;
}

template <class T, class F>
Key<T> string(const char* name, F field, const char* help, bool restart = false) {
    Key<T> k{name, "string", help, restart, {}, {}};
    k.set = [field, name](T& t, const toml::node& n, const Source& src) {
        const auto* v = n.as_string();
        if (!v) src.fail(n, std::string(name) + " = " + describe(n) + ": expected a string");
        field(t) = v->get();
    };
    k.show = [field](const T& t) { return toml_string(field(t)); };
    return k;
}

template <class T, class F>
Key<T> boolean(const char* name, F field, const char* help, bool restart = false) {
    Key<T> k{name, "true or false", help, restart, {}, {}};
    k.set = [field, name](T& t, const toml::node& n, const Source& src) {
        const auto* v = n.as_boolean();
        if (!v) src.fail(n, std::string(name) + " = " + describe(n) + ": expected true or false");
        field(t) = v->get();
    };
    k.show = [field](const T& t) { return std::string(field(t) ? "true" : "false"); };
    return k;
}

// One of a few words, each standing for a value of the field's type.
template <class T, class F, class V>
Key<T> choice(const char* name, F field, std::vector<std::pair<const char*, V>> words,
              const char* help, bool restart = false) {
    // "wait", "up" or "down"
    std::string type;
    for (std::size_t i = 0; i < words.size(); ++i)
        type += (i == 0 ? "" : i + 1 == words.size() ? " or " : ", ") + toml_string(words[i].first);
    Key<T> k{name, type, help, restart, {}, {}};
    k.set = [field, name, words, type](T& t, const toml::node& n, const Source& src) {
        const auto* s = n.as_string();
        for (const auto& [w, v] : words)
            if (s && s->get() == w) {
                field(t) = v;
                return;
            }
        src.fail(n, std::string(name) + " = " + describe(n) + ": expected " + type);
    };
    k.show = [field, words](const T& t) {
        for (const auto& [w, v] : words)
            if (field(t) == v) return toml_string(w);
        return std::string("?");
    };
    return k;
}

// A list of strings, each read by `parse` into a V (nullopt: refused, with
// "NAME: 'ITEM' is not WHAT"); `show` prints one back. `non_empty`: an empty
// list is refused too.
template <class T, class V, class F, class P, class S>
Key<T> list(const char* name, const char* what, const char* help, bool restart, F field, P parse,
            S show, bool non_empty = false) {
    Key<T> k{name, std::string("list of ") + what, help, restart, {}, {}};
    k.set = [=](T& t, const toml::node& n, const Source& src) {
        const auto* arr = n.as_array();
        if (!arr || (non_empty && arr->empty()))
            src.fail(n, std::string(name) + ": expected a list of " + what);
        auto& out = field(t);
        out.clear();
        for (const auto& item : *arr) {
            const auto* str = item.as_string();
            std::optional<V> v = str ? parse(str->get()) : std::nullopt;
            if (!v)
                src.fail(item, std::string(name) + ": " +
                                   (str ? "'" + str->get() + "'" : std::string("value")) +
                                   " is not " + what);
            out.push_back(std::move(*v));
        }
    };
    k.show = [=](const T& t) {
        std::string s = "[";
        for (const auto& v : field(t)) s += (s.size() > 1 ? ", " : "") + toml_string(show(v));
        return s + "]";
    };
    return k;
}

// Anything else (lists, addresses, secrets): its own parser and printer.
template <class T>
Key<T> custom(const char* name, std::string type, const char* help, bool restart,
              std::function<void(T&, const toml::node&, const Source&)> set,
              std::function<std::string(const T&)> show) {
    return Key<T>{name, std::move(type), help, restart, std::move(set), std::move(show)};
}

// "listen, threads, edns_payload" for errors.
template <class T>
std::vector<std::string> names(std::span<const Key<T>> keys) {
    std::vector<std::string> out;
    for (const auto& k : keys) out.push_back(k.name);
    return out;
}
template <class T>
std::string key_list(std::span<const Key<T>> keys, const std::vector<std::string>& also = {}) {
    std::string s;
    for (const auto& k : keys) s += (s.empty() ? "" : ", ") + std::string(k.name);
    for (const auto& a : also) s += (s.empty() ? "" : ", ") + a;
    return s;
}

// Refuses a key that is neither a row nor in `also` (keys the caller reads
// itself), naming the real ones; then sets every row whose key is present.
template <class T>
void read_table(const toml::table& t, std::span<const Key<T>> keys, T& target, const Source& src,
                std::string_view where, const std::vector<std::string>& also = {}) {
    for (const auto& [k, v] : t) {
        const std::string_view name = k.str();
        bool known = false;
        for (const auto& key : keys) known = known || name == key.name;
        for (const auto& a : also) known = known || name == a;
        if (!known)
            src.fail(v, "unknown key '" + std::string(name) + "' in " + std::string(where) +
                            " (known: " + key_list(keys, also) + ")");
    }
    for (const auto& key : keys)
        if (const toml::node* n = t.get(key.name)) key.set(target, *n, src);
}

// The rows whose value differs between two targets and that need a restart.
template <class T>
std::vector<std::string> restart_changes(std::span<const Key<T>> keys, const T& a, const T& b) {
    std::vector<std::string> out;
    for (const auto& k : keys)
        if (k.restart && k.show(a) != k.show(b)) out.push_back(k.name);
    return out;
}

// The reference comes in two forms: Markdown (docs/config-reference.md) and
// the dnsd.toml(5) manual page (man(7) macros). Its texts (sections, help) are
// written with Markdown's one inline markup, `code`.
enum class Format { markdown, man };

// Markdown text as roff: escaped, each `code` span in bold (then the font
// before it: a heading stays bold).
std::string man_text(std::string_view markdown);

// One section. Markdown: a table, a row per key with its default. Man: a
// subsection, a tagged paragraph per key ("key = default", what it does, its
// type, and whether a change needs a restart).
template <class T>
std::string reference(const char* section, const char* about, std::span<const Key<T>> keys,
                      const T& defaults, Format format) {
    if (format == Format::man) {
        std::string s = ".SS\n" + man_text(section) + "\n" + man_text(about) + "\n";
        for (const auto& k : keys)
            s += ".TP\n" + man_text("`" + std::string(k.name) + " = " + k.show(defaults) + "`") +
                 "\n" + man_text(k.help) + ".\nType: " + man_text(k.type) +
                 (k.restart ? "; a change needs a restart" : "") + ".\n";
        return s;
    }
    std::string s = std::string("## ") + section + "\n\n" + about +
                    "\n\n| key | type | default | restart | what |\n|---|---|---|---|---|\n";
    for (const auto& k : keys)
        s += "| `" + std::string(k.name) + "` | " + k.type + " | `" + k.show(defaults) + "` | " +
             (k.restart ? "yes" : "no") + " | " + k.help + " |\n";
    return s + "\n";
}

}  // namespace signpost::dnsd::config
