#include "dnsd/zone/zone_loader.hpp"

#include <ldns/ldns.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

namespace signpost::dnsd {
inline namespace zone {

namespace {

std::string lower_wire(const std::uint8_t* data, std::size_t len) {
    std::string s(reinterpret_cast<const char*>(data), len);
    for (auto& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return s;
}

bool compressible(std::uint16_t t) {
    return t == type::NS || t == type::CNAME || t == type::SOA || t == type::PTR || t == type::MX;
}

// ldns rdfs are already in wire format: concatenating them gives the rdata,
// and for the compressible types we note where the name fields are.
Record make_record(const ldns_rr* rr, std::uint16_t t) {
    Record rec;
    for (std::size_t i = 0; i < ldns_rr_rd_count(rr); ++i) {
        const ldns_rdf* f = ldns_rr_rdf(rr, i);
        if (compressible(t) && ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME && rec.names < 2)
            rec.name_at[rec.names++] = static_cast<std::uint8_t>(rec.rdata.size());
        const auto* d = ldns_rdf_data(f);
        rec.rdata.insert(rec.rdata.end(), d, d + ldns_rdf_size(f));
    }
    return rec;
}

struct Pending {
    RRset rrset;
    int first_line = 0;
};

bool is_subdomain(const std::string& name, const std::string& origin) {
    if (name.size() < origin.size()) return false;
    if (name.compare(name.size() - origin.size(), origin.size(), origin) != 0) return false;
    if (name.size() == origin.size()) return true;
    // The match must start at a label boundary: walk the labels of name.
    std::size_t p = 0;
    while (p < name.size() - origin.size()) p += static_cast<unsigned char>(name[p]) + 1u;
    return p == name.size() - origin.size();
}

// Strips the first label of a wire name.
std::string parent_of(const std::string& name) {
    return name.substr(static_cast<unsigned char>(name[0]) + 1u);
}

}  // namespace

std::string text_to_wire(const std::string& text) {
    ldns_rdf* rdf = nullptr;
    std::string t = text;
    if (t.empty() || t.back() != '.') t.push_back('.');
    if (ldns_str2rdf_dname(&rdf, t.c_str()) != LDNS_STATUS_OK) return {};
    std::string w = lower_wire(ldns_rdf_data(rdf), ldns_rdf_size(rdf));
    ldns_rdf_deep_free(rdf);
    return w;
}

ZoneLoadResult load_zone_file(const std::string& origin_text, const std::string& path,
                              std::uint32_t default_ttl) {
    ZoneLoadResult res;
    auto fail = [&](int line, const std::string& what) {
        res.zone.reset();
        res.error = path + (line > 0 ? ":" + std::to_string(line) : std::string()) + ": " + what;
        if (line > 0) {
            // Quote the line, so the message shows the value as written.
            if (FILE* f = std::fopen(path.c_str(), "r")) {
                char buf[512];
                for (int n = 1; std::fgets(buf, sizeof buf, f); ++n) {
                    if (n != line) continue;
                    std::string text(buf);
                    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
                        text.pop_back();
                    res.error += " in \"" + text + "\"";
                    break;
                }
                std::fclose(f);
            }
        }
        return res;
    };
    const std::string origin = text_to_wire(origin_text);
    if (origin.empty()) return fail(0, "bad zone name '" + origin_text + "'");
    FILE* fp = std::fopen(path.c_str(), "r");
    if (!fp) return fail(0, std::string("cannot open: ") + std::strerror(errno));

    std::string origin_dot = origin_text;
    if (origin_dot.back() != '.') origin_dot.push_back('.');
    ldns_rdf* cur_origin = ldns_dname_new_frm_str(origin_dot.c_str());
    ldns_rdf* prev = nullptr;
    std::uint32_t ttl = default_ttl;
    int line = 1;
    // owner -> type -> rrset; std::map keeps the load deterministic.
    std::map<std::string, std::map<std::uint16_t, Pending>> data;
    std::string error;
    int error_line = 0;
    while (error.empty()) {
        ldns_rr* rr = nullptr;
        const int line_before = line;
        ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &cur_origin, &prev, &line);
        if (s == LDNS_STATUS_SYNTAX_EMPTY || s == LDNS_STATUS_SYNTAX_TTL ||
            s == LDNS_STATUS_SYNTAX_ORIGIN) {
            if (std::feof(fp)) break;
            continue;
        }
        if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
            error = "$INCLUDE is not supported: list each zone file in the config";
            error_line = line_before;
            break;
        }
        if (s != LDNS_STATUS_OK) {
            if (std::feof(fp) && s == LDNS_STATUS_SYNTAX_ERR && line == line_before) break;
            error = ldns_get_errorstr_by_id(s);
            error_line = line_before;
            break;
        }
        const ldns_rdf* owner_rdf = ldns_rr_owner(rr);
        const std::string owner = lower_wire(ldns_rdf_data(owner_rdf), ldns_rdf_size(owner_rdf));
        const auto t = static_cast<std::uint16_t>(ldns_rr_get_type(rr));
        // ldns has counted the record's own newline(s) by now: it began on line_before.
        const int rr_line = line_before;
        if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
            error = "class must be IN for " +
                    name_to_text(reinterpret_cast<const std::uint8_t*>(owner.data()));
        } else if (!is_subdomain(owner, origin)) {
            error = name_to_text(reinterpret_cast<const std::uint8_t*>(owner.data())) +
                    " is outside the zone " + origin_dot;
        } else if (t == type::SOA && owner != origin) {
            error = "SOA record not at the zone apex " + origin_dot;
        } else {
            Pending& p = data[owner][t];
            if (p.rrset.records.empty()) {
                p.rrset.type = t;
                p.rrset.ttl = ldns_rr_ttl(rr);
                p.first_line = rr_line;
            } else if (t == type::SOA || t == type::CNAME) {
                error = std::string(t == type::SOA ? "second SOA" : "second CNAME") + " at " +
                        name_to_text(reinterpret_cast<const std::uint8_t*>(owner.data())) +
                        " (first on line " + std::to_string(p.first_line) + ")";
            }
            if (error.empty()) {
                Record rec = make_record(rr, t);
                const bool dup = std::any_of(p.rrset.records.begin(), p.rrset.records.end(),
                                             [&](const Record& r) { return r.rdata == rec.rdata; });
                if (!dup) p.rrset.records.push_back(std::move(rec));  // RFC 2181 5: a set
                if (ldns_rr_ttl(rr) != p.rrset.ttl) {
                    // RFC 2181 5.2: one TTL per RRset; serve the lowest, and say so.
                    res.warnings.push_back(path + ":" + std::to_string(rr_line) + ": TTL " +
                                           std::to_string(ldns_rr_ttl(rr)) +
                                           " differs within the RRset (using the lowest)");
                    p.rrset.ttl = std::min(p.rrset.ttl, ldns_rr_ttl(rr));
                }
            }
        }
        if (!error.empty()) error_line = rr_line;
        ldns_rr_free(rr);
        if (std::feof(fp)) break;
    }
    std::fclose(fp);
    ldns_rdf_deep_free(cur_origin);
    if (prev) ldns_rdf_deep_free(prev);
    if (!error.empty()) return fail(error_line, error);

    auto zone = std::make_shared<Zone>();
    zone->origin = origin;
    zone->file = path;
    for (std::size_t p = 0; origin[p] != 0; p += static_cast<unsigned char>(origin[p]) + 1u)
        ++zone->origin_labels;
    for (auto& [owner, types] : data) {
        // RRSIG and NSEC may sit beside a CNAME (RFC 4035 2.5): a signed zone's do.
        const auto other = std::count_if(types.begin(), types.end(), [](const auto& tp) {
            return tp.first != type::CNAME && tp.first != 46 && tp.first != 47;
        });
        if (types.count(type::CNAME) && other > 0) {
            int l = 0;
            for (auto& [t, p] : types)
                if (t != type::CNAME) l = std::max(l, p.first_line);
            return fail(l, "CNAME and other data at " +
                               name_to_text(reinterpret_cast<const std::uint8_t*>(owner.data())) +
                               " (RFC 1034 3.6.2)");
        }
        if (owner == origin && types.count(type::CNAME))
            return fail(types[type::CNAME].first_line, "CNAME at the zone apex");
        Node& node = zone->nodes[owner];
        for (auto& [t, p] : types) node.rrsets.push_back(std::move(p.rrset));
        // Empty non-terminals: every ancestor up to the apex exists.
        for (std::string n = owner; n != origin; n = parent_of(n)) {
            const std::string parent = parent_of(n);
            Node& pn = zone->nodes[parent];
            if (n[0] == 1 && n[1] == '*') pn.wildcard_child = true;
        }
    }
    auto apex_it = zone->nodes.find(origin);
    if (apex_it == zone->nodes.end() || !apex_it->second.find(type::SOA))
        return fail(0, "no SOA record at the zone apex " + origin_dot);
    if (!apex_it->second.find(type::NS))
        return fail(0, "no NS records at the zone apex " + origin_dot);
    zone->apex = &apex_it->second;
    zone->soa = zone->apex->find(type::SOA);
    // SOA rdata: mname, rname, serial, refresh, retry, expire, minimum.
    const auto& soa = zone->soa->records.front().rdata;
    const auto* end = soa.data() + soa.size();
    zone->serial = (std::uint32_t{end[-20]} << 24) | (std::uint32_t{end[-19]} << 16) |
                   (std::uint32_t{end[-18]} << 8) | end[-17];
    const std::uint32_t minimum = (std::uint32_t{end[-4]} << 24) | (std::uint32_t{end[-3]} << 16) |
                                  (std::uint32_t{end[-2]} << 8) | end[-1];
    zone->negative_ttl = std::min(zone->soa->ttl, minimum);
    for (auto& [name, node] : zone->nodes) {
        if (name != origin && node.find(type::NS)) node.delegation = true;
    }
    // Data below a cut is occluded (only glue is used from there): say so.
    for (auto& [name, node] : zone->nodes) {
        if (node.rrsets.empty() || name == origin) continue;
        for (std::string n = parent_of(name); n != origin && n.size() > 1; n = parent_of(n)) {
            auto it = zone->nodes.find(n);
            if (it != zone->nodes.end() && it->second.delegation) {
                bool glue_only = std::all_of(
                    node.rrsets.begin(), node.rrsets.end(),
                    [](const RRset& r) { return r.type == type::A || r.type == type::AAAA; });
                if (!glue_only)
                    res.warnings.push_back(
                        path + ": " +
                        name_to_text(reinterpret_cast<const std::uint8_t*>(name.data())) +
                        " is below the zone cut " +
                        name_to_text(reinterpret_cast<const std::uint8_t*>(n.data())) +
                        " and will not be served");
                break;
            }
        }
    }
    res.zone = std::move(zone);
    return res;
}

}  // namespace zone
}  // namespace signpost::dnsd
