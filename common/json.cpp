#include "common/json.hpp"

#include <cctype>
#include <charconv>
#include <cmath>

namespace signpost::common::json {

namespace {
// Length of the valid UTF-8 sequence starting at s[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 if it is not valid.
std::size_t utf8_sequence(std::string_view s, std::size_t i) {
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    std::size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (i + n > s.size() || b(1) < lo || b(1) > hi) return 0;
    for (std::size_t k = 2; k < n; ++k)
        if (b(k) < 0x80 || b(k) > 0xbf) return 0;
    return n;
}
}  // namespace

bool is_plain(std::string_view s) {
    bool plain = true;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        plain &= c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
    }
    return plain;
}

void append_string(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    // Most strings (codes, names) need no escaping: one append.
    if (is_plain(s)) {
        out.push_back('"');
        out.append(s);
        out.push_back('"');
        return;
    }
    out.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            // Valid UTF-8 (an AS name like "Telefónica") passes through as it is;
            // a byte that is not UTF-8 becomes U+FFFD, so the line stays valid JSON.
            if (const std::size_t n = utf8_sequence(s, i)) {
                out.append(s.substr(i, n));
                i += n;
            } else {
                out.append("\\ufffd");
                ++i;
            }
            continue;
        }
        ++i;
        switch (c) {
            case '"':
                out.append("\\\"");
                break;
            case '\\':
                out.append("\\\\");
                break;
            case '\n':
                out.append("\\n");
                break;
            case '\r':
                out.append("\\r");
                break;
            case '\t':
                out.append("\\t");
                break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    out.append("\\u00");
                    out.push_back(kHex[c >> 4]);
                    out.push_back(kHex[c & 0xf]);
                } else {
                    out.push_back(static_cast<char>(c));
                }
        }
    }
    out.push_back('"');
}

void append_uint(std::string& out, std::uint64_t v) {
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    out.append(buf, end);
}

void append_double(std::string& out, double v) {
    if (!std::isfinite(v)) {
        out.append("null");
        return;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    (void)ec;
    out.append(buf, end);
}

namespace {

// Nesting deeper than this is refused: our protocols never nest more than two
// levels, and a bound keeps hostile input from exhausting the stack.
constexpr int kMaxDepth = 16;

class Parser {
  public:
    explicit Parser(std::string_view t) : t_(t) {}

    void ws() {
        while (i_ < t_.size() &&
               (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\r' || t_[i_] == '\n'))
            ++i_;
    }
    bool eat(char c) {
        ws();
        if (i_ < t_.size() && t_[i_] == c) {
            ++i_;
            return true;
        }
        return false;
    }
    bool at_end() {
        ws();
        return i_ == t_.size();
    }

    bool string(std::string& out) {
        ws();
        if (i_ >= t_.size() || t_[i_] != '"') return fail("expected string");
        ++i_;
        out.clear();
        while (i_ < t_.size()) {
            char c = t_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return fail("control character in string");
            if (c != '\\') {
                out.push_back(c);
                continue;
            }
            if (i_ >= t_.size()) break;
            char e = t_[i_++];
            switch (e) {
                case '"':
                    out.push_back('"');
                    break;
                case '\\':
                    out.push_back('\\');
                    break;
                case '/':
                    out.push_back('/');
                    break;
                case 'b':
                    out.push_back('\b');
                    break;
                case 'f':
                    out.push_back('\f');
                    break;
                case 'n':
                    out.push_back('\n');
                    break;
                case 'r':
                    out.push_back('\r');
                    break;
                case 't':
                    out.push_back('\t');
                    break;
                case 'u': {
                    if (i_ + 4 > t_.size()) return fail("short \\u escape");
                    unsigned cp = 0;
                    auto [p, ec] = std::from_chars(t_.data() + i_, t_.data() + i_ + 4, cp, 16);
                    if (ec != std::errc() || p != t_.data() + i_ + 4) return fail("bad \\u escape");
                    i_ += 4;
                    append_utf8(out, cp);
                    break;
                }
                default:
                    return fail("bad escape");
            }
        }
        return fail("unterminated string");
    }

    bool value(Value& v, int depth) {
        ws();
        if (i_ >= t_.size()) return fail("expected value");
        const std::size_t start = i_;
        const char c = t_[i_];
        if (c == '"') {
            v.type = Type::kString;
            if (!string(v.str)) return false;
        } else if (c == '{' || c == '[') {
            if (depth >= kMaxDepth) return fail("nesting too deep");
            v.type = c == '{' ? Type::kObject : Type::kArray;
            if (!skip_container(depth + 1)) return false;
        } else if (t_.substr(i_, 4) == "true" || t_.substr(i_, 5) == "false") {
            v.type = Type::kBool;
            v.boolean = c == 't';
            i_ += v.boolean ? 4 : 5;
        } else if (t_.substr(i_, 4) == "null") {
            v.type = Type::kNull;
            i_ += 4;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            v.type = Type::kNumber;
            while (i_ < t_.size() &&
                   (std::isdigit(static_cast<unsigned char>(t_[i_])) || t_[i_] == '-' ||
                    t_[i_] == '+' || t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E'))
                ++i_;
        } else {
            return fail("unexpected character");
        }
        v.raw = t_.substr(start, i_ - start);
        return true;
    }

    bool skip_container(int depth) {
        const bool obj = t_[i_] == '{';
        ++i_;
        if (eat(obj ? '}' : ']')) return true;
        std::string key;
        Value v;
        for (;;) {
            if (obj) {
                if (!string(key)) return false;
                if (!eat(':')) return fail("expected ':'");
            }
            if (!value(v, depth)) return false;
            if (eat(',')) continue;
            if (eat(obj ? '}' : ']')) return true;
            return fail("expected ',' or end of container");
        }
    }

    bool fail(const char* why) {
        if (error_.empty()) error_ = std::string(why) + " at offset " + std::to_string(i_);
        return false;
    }
    const std::string& error() const { return error_; }

  private:
    static void append_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        } else {
            out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
        }
    }

    std::string_view t_;
    std::size_t i_ = 0;
    std::string error_;
};

}  // namespace

std::string for_each_member(std::string_view text,
                            const std::function<void(std::string_view, const Value&)>& fn) {
    Parser p(text);
    if (!p.eat('{')) return "expected '{'";
    std::string key;
    Value v;
    if (!p.eat('}')) {
        for (;;) {
            if (!p.string(key)) return p.error();
            if (!p.eat(':')) return "expected ':' after key \"" + key + "\"";
            if (!p.value(v, 1)) return p.error();
            fn(key, v);
            if (p.eat(',')) continue;
            if (p.eat('}')) break;
            return "expected ',' or '}'";
        }
    }
    if (!p.at_end()) return "trailing characters after object";
    return {};
}

}  // namespace signpost::common::json
