#include "common/geo_answer.hpp"

#include <charconv>

#include "common/json.hpp"

namespace signpost::common {

GeoFactsView view_of(const GeoAnswer& a) {
    return GeoFactsView{a.ip,     a.prefix,       a.found,    a.country,   a.continent, a.asn,
                        a.as_org, a.has_location, a.latitude, a.longitude, a.generation};
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

void append_answer_json(std::string& out, const GeoFactsView& f) {
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
    out.append(",\"generation\":");
    json::append_uint(out, f.generation);
    out.append("}\n");
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

std::string parse_answer_json(std::string_view line, GeoAnswer& out) {
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
        } else if (key == "generation") {
            if (v.type != json::Type::kNumber || !parse_number(v.raw, out.generation)) return bad();
        }
        // Unknown keys are ignored: newer servers may add fields.
    });
    if (!err.empty()) return "malformed response: " + err;
    if (!server_error.empty()) return "geoipd: " + server_error;
    if (!problem.empty()) return "malformed response: " + problem;
    if (!have_ip || !have_prefix) return "malformed response: missing \"ip\" or \"prefix\"";
    if (out.prefix.family() != out.ip.family() || !out.prefix.contains(out.ip))
        return "malformed response: prefix " + out.prefix.to_string() + " does not contain " +
               out.ip.to_string();
    // Half a location is no location: both coordinates or neither.
    out.has_location = have_lat && have_lon;
    if (!out.has_location) out.latitude = out.longitude = 0;
    return {};
}

}  // namespace signpost::common
