#include "geoipd/stats.hpp"

#include "common/json.hpp"

namespace signpost::geoipd {

Stats::Stats(unsigned workers) {
    for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerCounters>());
}

void Stats::append_json(std::string& out, std::uint64_t generation) const {
    using common::json::append_uint;
    std::uint64_t sums[9] = {};
    for (const auto& w : workers_) {
        const std::atomic<std::uint64_t>* fields[9] = {&w->lookups,
                                                       &w->found,
                                                       &w->not_found,
                                                       &w->bad_requests,
                                                       &w->info_requests,
                                                       &w->stats_requests,
                                                       &w->connections_accepted,
                                                       &w->connections_refused,
                                                       &w->reads_paused};
        for (int i = 0; i < 9; ++i) sums[i] += fields[i]->load(std::memory_order_relaxed);
    }
    static constexpr const char* kNames[9] = {"lookups",
                                              "found",
                                              "not_found",
                                              "bad_requests",
                                              "info_requests",
                                              "stats_requests",
                                              "connections_accepted",
                                              "connections_refused",
                                              "reads_paused"};
    out.push_back('{');
    for (int i = 0; i < 9; ++i) {
        out.push_back('"');
        out.append(kNames[i]);
        out.append("\":");
        append_uint(out, sums[i]);
        out.push_back(',');
    }
    out.append("\"connections_current\":");
    append_uint(out, static_cast<std::uint64_t>(connections_current.load()));
    out.append(",\"reloads\":");
    append_uint(out, reloads.load());
    out.append(",\"reload_failures\":");
    append_uint(out, reload_failures.load());
    out.append(",\"last_reload_failure\":");
    append_uint(out, static_cast<std::uint64_t>(last_reload_failure.load()));
    out.append(",\"generation\":");
    append_uint(out, generation);
    out.append("}\n");
}

}  // namespace signpost::geoipd
