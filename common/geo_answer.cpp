#include "common/geo_answer.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include "common/json.hpp"

namespace signpost::common {

GeoFactsView view_of(const GeoAnswer& a) {
    return GeoFactsView{a.ip,        a.prefix,    a.found,           a.country,
                        a.continent, a.asn,       a.as_org,          a.has_location,
                        a.latitude,  a.longitude, a.accuracy_radius, a.generation};
}

namespace {
void append_opt_string(std::string& out, std::string_view s) {
    if (s.empty()) {
        out.append("null");
    } else {
        json::append_string(out, s);
    }
}
}  // namespace

namespace {

// Writes into a buffer the caller sized; geoipd writes one line per lookup,
// so this is its hot path: no capacity checks per member.
struct LineWriter {
    char* p;
    template <std::size_t N>
    void lit(const char (&s)[N]) {
        std::memcpy(p, s, N - 1);
        p += N - 1;
    }
    void raw(std::string_view s) {
        std::memcpy(p, s.data(), s.size());
        p += s.size();
    }
    void opt_string(std::string_view s) {  // s is json::is_plain
        if (s.empty()) return lit("null");
        *p++ = '"';
        raw(s);
        *p++ = '"';
    }
    void uint(std::uint64_t v) { p = std::to_chars(p, p + 24, v).ptr; }
    void number(double v) {
        if (!std::isfinite(v)) return lit("null");
        p = std::to_chars(p, p + 32, v).ptr;
    }
};

// The longest AS organisation written by the fast path; longer ones (and any
// string that needs escaping) take the general one.
constexpr std::size_t kFastOrgMax = 256;
constexpr std::size_t kFastLineMax = 256 + 2 * Prefix::kMaxText + kFastOrgMax + 2 * 32 + 2 * 24;

void append_answer_json_general(std::string& out, const GeoFactsView& f) {
    char buf[Prefix::kMaxText];
    out.append("{\"ip\":\"");
    out.append(buf, f.ip.format(buf));
    out.append("\",\"prefix\":\"");
    out.append(buf, f.prefix.format(buf));
    out.append(f.found ? "\",\"found\":true,\"country\":" : "\",\"found\":false,\"country\":");
    append_opt_string(out, f.country);
    out.append(",\"continent\":");
    append_opt_string(out, f.continent);
    out.append(",\"asn\":");
    if (f.asn != 0) {
        json::append_uint(out, f.asn);
    } else {
        out.append("null");
    }
    out.append(",\"as_org\":");
    append_opt_string(out, f.as_org);
    if (f.has_location) {
        out.append(",\"latitude\":");
        json::append_double(out, f.latitude);
        out.append(",\"longitude\":");
        json::append_double(out, f.longitude);
    } else {
        out.append(",\"latitude\":null,\"longitude\":null");
    }
    out.append(",\"accuracy_radius\":");
    if (f.has_location && f.accuracy_radius != 0) {
        json::append_uint(out, f.accuracy_radius);
    } else {
        out.append("null");
    }
    out.append(",\"generation\":");
    json::append_uint(out, f.generation);
    out.append("}\n");
}

}  // namespace

void append_answer_json(std::string& out, const GeoFactsView& f) {
    if (f.as_org.size() > kFastOrgMax || f.country.size() > 8 || f.continent.size() > 8 ||
        !json::is_plain(f.as_org) || !json::is_plain(f.country) || !json::is_plain(f.continent))
        return append_answer_json_general(out, f);
    char buf[kFastLineMax];
    LineWriter w{buf};
    w.lit("{\"ip\":\"");
    w.p += f.ip.format(w.p);
    w.lit("\",\"prefix\":\"");
    w.p += f.prefix.format(w.p);
    if (f.found) {
        w.lit("\",\"found\":true,\"country\":");
    } else {
        w.lit("\",\"found\":false,\"country\":");
    }
    w.opt_string(f.country);
    w.lit(",\"continent\":");
    w.opt_string(f.continent);
    w.lit(",\"asn\":");
    if (f.asn != 0) {
        w.uint(f.asn);
    } else {
        w.lit("null");
    }
    w.lit(",\"as_org\":");
    w.opt_string(f.as_org);
    if (f.has_location) {
        w.lit(",\"latitude\":");
        w.number(f.latitude);
        w.lit(",\"longitude\":");
        w.number(f.longitude);
    } else {
        w.lit(",\"latitude\":null,\"longitude\":null");
    }
    w.lit(",\"accuracy_radius\":");
    if (f.has_location && f.accuracy_radius != 0) {
        w.uint(f.accuracy_radius);
    } else {
        w.lit("null");
    }
    w.lit(",\"generation\":");
    w.uint(f.generation);
    w.lit("}\n");
    out.append(buf, static_cast<std::size_t>(w.p - buf));
}

void append_error_json(std::string& out, std::string_view what, std::string_view input) {
    out.append("{\"error\":");
    json::append_string(out, what);
    out.append(",\"input\":");
    json::append_string(out, input);
    out.append("}\n");
}

namespace {
template <class T>
bool parse_number(std::string_view raw, T& out) {
    auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), out);
    return ec == std::errc() && p == raw.data() + raw.size();
}
}  // namespace

namespace {

// geoipd's own line, exactly as append_answer_json writes it, read without the
// generic JSON reader (no callbacks, no per-character appends): the common
// case on dnsd's cold-cache path. Anything else falls back to the generic
// reader, which accepts any member order, spacing and escapes.
class Canonical {
  public:
    explicit Canonical(std::string_view s) : s_(s) {}
    bool lit(std::string_view x) {
        if (!s_.starts_with(x)) return false;
        s_.remove_prefix(x.size());
        return true;
    }
    // A string with no escapes and no control characters.
    bool plain(std::string_view& out) {
        if (!lit("\"")) return false;
        std::size_t i = 0;
        while (i < s_.size() && s_[i] != '"') {
            const unsigned char c = static_cast<unsigned char>(s_[i]);
            if (c < 0x20 || c == '\\') return false;
            ++i;
        }
        if (i == s_.size()) return false;
        out = s_.substr(0, i);
        s_.remove_prefix(i + 1);
        return true;
    }
    bool opt_string(std::string& out) {
        if (lit("null")) return true;
        std::string_view v;
        if (!plain(v)) return false;
        out.assign(v);
        return true;
    }
    // A number token as the generic reader delimits it (it starts with '-'
    // or a digit, never '.'), then from_chars on all of it.
    template <class T>
    bool number(T& out) {
        if (s_.empty() || (s_[0] != '-' && (s_[0] < '0' || s_[0] > '9'))) return false;
        std::size_t i = 0;
        while (i < s_.size() && ((s_[i] >= '0' && s_[i] <= '9') || s_[i] == '-' || s_[i] == '+' ||
                                 s_[i] == '.' || s_[i] == 'e' || s_[i] == 'E'))
            ++i;
        if (i == 0 || !parse_number(s_.substr(0, i), out)) return false;
        s_.remove_prefix(i);
        return true;
    }
    bool end() const { return s_.empty(); }

  private:
    std::string_view s_;
};

bool parse_canonical(std::string_view line, GeoAnswer& out, bool& have_lat, bool& have_lon) {
    Canonical c(line);
    std::string_view ip, prefix;
    if (!c.lit("{\"ip\":") || !c.plain(ip) || !c.lit(",\"prefix\":") || !c.plain(prefix))
        return false;
    auto a = IpAddress::parse(ip);
    auto p = Prefix::parse(prefix, true);
    if (!a || !p) return false;
    out.ip = *a;
    out.prefix = *p;
    if (c.lit(",\"found\":true"))
        out.found = true;
    else if (!c.lit(",\"found\":false"))
        return false;
    if (!c.lit(",\"country\":") || !c.opt_string(out.country) || !c.lit(",\"continent\":") ||
        !c.opt_string(out.continent) || !c.lit(",\"asn\":"))
        return false;
    if (!c.lit("null") && !c.number(out.asn)) return false;
    if (!c.lit(",\"as_org\":") || !c.opt_string(out.as_org) || !c.lit(",\"latitude\":"))
        return false;
    have_lat = !c.lit("null");
    if (have_lat && !c.number(out.latitude)) return false;
    if (!c.lit(",\"longitude\":")) return false;
    have_lon = !c.lit("null");
    if (have_lon && !c.number(out.longitude)) return false;
    if (!c.lit(",\"accuracy_radius\":")) return false;
    if (!c.lit("null") && !c.number(out.accuracy_radius)) return false;
    return c.lit(",\"generation\":") && c.number(out.generation) && c.lit("}") && c.end();
}

// The checks both readers share.
std::string finish_answer(GeoAnswer& out, bool have_lat, bool have_lon) {
    if (out.prefix.family() != out.ip.family() || !out.prefix.contains(out.ip))
        return "malformed response: prefix " + out.prefix.to_string() + " does not contain " +
               out.ip.to_string();
    // Half a location is no location: both coordinates or neither.
    out.has_location = have_lat && have_lon;
    if (!out.has_location) {
        out.latitude = out.longitude = 0;
        out.accuracy_radius = 0;
    }
    return {};
}

}  // namespace

std::string parse_answer_json(std::string_view line, GeoAnswer& out) {
    {
        bool have_lat = false, have_lon = false;
        out = GeoAnswer{};
        if (parse_canonical(line, out, have_lat, have_lon))
            return finish_answer(out, have_lat, have_lon);
    }
    return parse_answer_json_generic(line, out);
}

std::string parse_answer_json_generic(std::string_view line, GeoAnswer& out) {
    out = GeoAnswer{};
    std::string problem;
    std::string server_error;
    bool have_ip = false, have_prefix = false, have_lat = false, have_lon = false;
    auto err = json::for_each_member(line, [&](std::string_view key, const json::Value& v) {
        if (!problem.empty()) return;
        const bool is_null = v.type == json::Type::kNull;
        auto bad = [&] { problem = "bad value for \"" + std::string(key) + "\""; };
        if (key == "error") {
            server_error = v.str;
        } else if (key == "ip") {
            auto a = v.type == json::Type::kString ? IpAddress::parse(v.str) : std::nullopt;
            if (!a) return bad();
            out.ip = *a;
            have_ip = true;
        } else if (key == "prefix") {
            auto p = v.type == json::Type::kString ? Prefix::parse(v.str, true) : std::nullopt;
            if (!p) return bad();
            out.prefix = *p;
            have_prefix = true;
        } else if (key == "found") {
            if (v.type != json::Type::kBool) return bad();
            out.found = v.boolean;
        } else if (key == "country" || key == "continent" || key == "as_org") {
            if (is_null) return;
            if (v.type != json::Type::kString) return bad();
            (key == "country"     ? out.country
             : key == "continent" ? out.continent
                                  : out.as_org) = v.str;
        } else if (key == "asn") {
            if (is_null) return;
            if (v.type != json::Type::kNumber || !parse_number(v.raw, out.asn)) return bad();
        } else if (key == "latitude" || key == "longitude") {
            if (is_null) return;
            double d = 0;
            if (v.type != json::Type::kNumber || !parse_number(v.raw, d)) return bad();
            (key == "latitude" ? out.latitude : out.longitude) = d;
            (key == "latitude" ? have_lat : have_lon) = true;
        } else if (key == "accuracy_radius") {
            if (is_null) return;
            if (v.type != json::Type::kNumber || !parse_number(v.raw, out.accuracy_radius))
                return bad();
        } else if (key == "generation") {
            if (v.type != json::Type::kNumber || !parse_number(v.raw, out.generation)) return bad();
        }
        // Unknown keys are ignored: newer servers may add fields.
    });
    if (!err.empty()) return "malformed response: " + err;
    if (!server_error.empty()) return "geoipd: " + server_error;
    if (!problem.empty()) return "malformed response: " + problem;
    if (!have_ip || !have_prefix) return "malformed response: missing \"ip\" or \"prefix\"";
    return finish_answer(out, have_lat, have_lon);
}

}  // namespace signpost::common
