#include "geoipd/stats.hpp"

#include "common/json.hpp"

namespace signpost::geoipd {

Stats::Stats(unsigned workers) {
    for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerCounters>());
}

void Stats::append_json(std::string& out, std::uint64_t generation) const {
    using common::json::append_uint;
    constexpr int kFields = 13;
    std::uint64_t sums[kFields] = {};
    for (const auto& w : workers_) {
        const std::atomic<std::uint64_t>* fields[kFields] = {&w->lookups,
                                                             &w->found,
                                                             &w->not_found,
                                                             &w->bad_requests,
                                                             &w->info_requests,
                                                             &w->stats_requests,
                                                             &w->connections_accepted,
                                                             &w->connections_refused,
                                                             &w->reads_paused,
                                                             &w->table_requests,
                                                             &w->subscribe_requests,
                                                             &w->table_pushes,
                                                             &w->subscribers_dropped};
        for (int i = 0; i < kFields; ++i) sums[i] += fields[i]->load(std::memory_order_relaxed);
    }
    static constexpr const char* kNames[kFields] = {"lookups",
                                                    "found",
                                                    "not_found",
                                                    "bad_requests",
                                                    "info_requests",
                                                    "stats_requests",
                                                    "connections_accepted",
                                                    "connections_refused",
                                                    "reads_paused",
                                                    "table_requests",
                                                    "subscribe_requests",
                                                    "table_pushes",
                                                    "subscribers_dropped"};
    out.push_back('{');
    for (int i = 0; i < kFields; ++i) {
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
    const std::pair<const char*, const std::atomic<std::uint64_t>*> table[] = {
        {"table_generation", &table_generation},
        {"table_v4_ranges", &table_v4_ranges},
        {"table_v6_ranges", &table_v6_ranges},
        {"table_facts", &table_facts},
        {"table_bytes", &table_bytes},
        {"table_compile_ms", &table_compile_ms},
        {"table_compile_failures", &table_compile_failures}};
    for (const auto& [name, value] : table) {
        out.append(",\"").append(name).append("\":");
        append_uint(out, value->load());
    }
    out.append(",\"generation\":");
    append_uint(out, generation);
    out.append("}\n");
}

}  // namespace signpost::geoipd
