#include "geoipd/request_handler.hpp"

#include "common/geo_protocol.hpp"

namespace signpost::geoipd {

void handle_request_line(std::string_view line, const DatabaseSet& set, const Stats& stats,
                         WorkerCounters& c, std::string& out) {
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
        case common::RequestKind::kError:
            bump(c.bad_requests);
            // Echo at most the start of the line: enough to recognise it.
            common::append_error_json(out, req.error, line.substr(0, 64));
            break;
    }
}

}  // namespace signpost::geoipd
