#include "geoipd/request_handler.hpp"

#include "common/geo_protocol.hpp"

namespace signpost::geoipd {

void append_table_line(std::string& out, const common::GeoTable& table) {
    out.append("{\"table\":");
    out.append(table.describe_json());
    out.append("}\n");
}

void handle_request_line(std::string_view line, const DatabaseSet& set, const Stats& stats,
                         WorkerCounters& c, std::string& out, RequestEffects* effects) {
    const common::Request req = common::parse_request(line);
    switch (req.kind) {
        case common::RequestKind::kLookup: {
            const common::GeoFactsView f = set.lookup(req.address);
            bump(c.lookups);
            bump(f.found ? c.found : c.not_found);
            common::append_answer_json(out, f);
            break;
        }
        case common::RequestKind::kInfo:
            bump(c.info_requests);
            set.append_info_json(out);
            break;
        case common::RequestKind::kStats:
            bump(c.stats_requests);
            stats.append_json(out, set.generation());
            break;
        case common::RequestKind::kTable:
        case common::RequestKind::kSubscribe: {
            const bool sub = req.kind == common::RequestKind::kSubscribe;
            bump(sub ? c.subscribe_requests : c.table_requests);
            append_table_line(out, *set.table());
            if (effects) {
                effects->attach_table = true;
                effects->subscribe = sub;
            }
            break;
        }
        case common::RequestKind::kError:
            bump(c.bad_requests);
            // Echo at most the start of the line: enough to recognise it.
            common::append_error_json(out, req.error, line.substr(0, 64));
            break;
    }
}

}  // namespace signpost::geoipd
