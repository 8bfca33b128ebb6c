#include "geoipd/database_set.hpp"

#include "common/country_continent.hpp"
#include "common/json.hpp"

namespace signpost::geoipd {

namespace json = common::json;

DatabaseSet::DatabaseSet(std::vector<std::shared_ptr<const Database>> dbs, std::uint64_t generation)
    : dbs_(std::move(dbs)), generation_(generation) {}

common::GeoFactsView DatabaseSet::lookup(const common::IpAddress& addr) const {
    common::GeoFactsView f;
    f.ip = addr;
    f.generation = generation_;
    unsigned len = 0;
    for (const auto& db : dbs_) {
        const DatabaseHit h = db->lookup(addr);
        if (h.prefix_len > len) len = h.prefix_len;
        if (!h.found) continue;
        f.found = true;
        if (f.country.empty()) f.country = h.country;
        if (f.continent.empty()) f.continent = h.continent;
        if (f.asn == 0) f.asn = h.asn;
        if (f.as_org.empty()) f.as_org = h.as_org;
        if (!f.has_location && h.has_location) {
            f.has_location = true;
            f.latitude = h.latitude;
            f.longitude = h.longitude;
        }
    }
    if (f.continent.empty() && !f.country.empty())
        f.continent = common::continent_of_country(f.country);
    f.prefix = common::Prefix(addr, len);
    return f;
}

void DatabaseSet::append_info_json(std::string& out) const {
    out.append("{\"generation\":");
    json::append_uint(out, generation_);
    out.append(",\"databases\":[");
    bool first = true;
    for (const auto& db : dbs_) {
        if (!first) out.push_back(',');
        first = false;
        out.append("{\"file\":");
        json::append_string(out, db->path());
        out.append(",\"type\":");
        json::append_string(out, db->database_type());
        out.append(",\"kind\":");
        json::append_string(out, db->schema().kind());
        out.append(",\"build_epoch\":");
        json::append_uint(out, db->build_epoch());
        out.append(",\"ip_version\":");
        json::append_uint(out, db->ip_version());
        out.append(",\"node_count\":");
        json::append_uint(out, db->node_count());
        out.append(",\"data_records\":");
        json::append_uint(out, db->data_records());
        out.append(",\"loaded_at\":");
        json::append_uint(out, static_cast<std::uint64_t>(db->loaded_at()));
        out.append(",\"fields\":{");
        bool ffirst = true;
        for (std::size_t i = 0; i < kFieldCount; ++i) {
            const auto& p = db->schema()[static_cast<Field>(i)];
            if (!p) continue;
            if (!ffirst) out.push_back(',');
            ffirst = false;
            json::append_string(out, field_name(static_cast<Field>(i)));
            out.push_back(':');
            json::append_string(out, p->dotted());
        }
        out.append("}}");
    }
    out.append("]}\n");
}

}  // namespace signpost::geoipd
