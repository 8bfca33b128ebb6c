#include "geoipd/stats.hpp"

#include "common/json.hpp"
#include "common/metrics_server.hpp"
#include "geoipd/database_set.hpp"

namespace signpost::geoipd {

Stats::Stats(unsigned workers) {
    for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerCounters>());
}

namespace {

// Every worker counter once: its JSON name and its help (the metric is
// signpost_geoipd_<name>_total).
struct Counter {
    const char* name;
    const char* help;
    std::atomic<std::uint64_t> WorkerCounters::*field;
};
constexpr Counter kCounters[] = {
    {"lookups", "address lookups answered", &WorkerCounters::lookups},
    {"found", "lookups whose address is in a database", &WorkerCounters::found},
    {"not_found", "lookups whose address is in no database", &WorkerCounters::not_found},
    {"bad_requests", "request lines refused (not an address or a known word)",
     &WorkerCounters::bad_requests},
    {"info_requests", "info requests", &WorkerCounters::info_requests},
    {"stats_requests", "stats requests", &WorkerCounters::stats_requests},
    {"connections_accepted", "client connections accepted", &WorkerCounters::connections_accepted},
    {"connections_refused", "client connections refused over --max-clients",
     &WorkerCounters::connections_refused},
    {"reads_paused", "times a client's input was paused until it read its answers",
     &WorkerCounters::reads_paused},
    {"table_requests", "table requests (the geo table's memfd passed)",
     &WorkerCounters::table_requests},
    {"subscribe_requests", "subscribe requests", &WorkerCounters::subscribe_requests},
    {"table_pushes", "new table generations pushed to subscribers", &WorkerCounters::table_pushes},
    {"subscribers_dropped", "subscribers closed for being too far behind",
     &WorkerCounters::subscribers_dropped},
};

struct Gauge {
    const char* name;
    const char* help;
    const std::atomic<std::uint64_t> Stats::*field;
};
constexpr Gauge kTableGauges[] = {
    {"table_generation", "generation of the published geo table", &Stats::table_generation},
    {"table_v4_ranges", "IPv4 ranges of the published geo table", &Stats::table_v4_ranges},
    {"table_v6_ranges", "IPv6 ranges of the published geo table", &Stats::table_v6_ranges},
    {"table_facts", "distinct facts of the published geo table", &Stats::table_facts},
    {"table_bytes", "size of the published geo table", &Stats::table_bytes},
    {"table_compile_ms", "time the published geo table took to compile", &Stats::table_compile_ms},
};

}  // namespace

std::uint64_t Stats::sum(std::atomic<std::uint64_t> WorkerCounters::*field) const {
    std::uint64_t s = 0;
    for (const auto& w : workers_) s += ((*w).*field).load(std::memory_order_relaxed);
    return s;
}

void Stats::append_json(std::string& out, std::uint64_t generation) const {
    using common::json::append_uint;
    out.push_back('{');
    for (const auto& c : kCounters) {
        out.push_back('"');
        out.append(c.name);
        out.append("\":");
        append_uint(out, sum(c.field));
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
    for (const auto& g : kTableGauges) {
        out.append(",\"").append(g.name).append("\":");
        append_uint(out, (this->*g.field).load());
    }
    out.append(",\"table_compile_failures\":");
    append_uint(out, table_compile_failures.load());
    out.append(",\"generation\":");
    append_uint(out, generation);
    out.append("}\n");
}

std::string Stats::prometheus(const DatabaseSet& dbs, std::int64_t now_unix) const {
    std::string out;
    auto metric = [&](const std::string& name, const char* help, const char* kind,
                      const std::string& value, const std::string& labels = {}) {
        out += "# HELP signpost_geoipd_" + name + " " + help + "\n# TYPE signpost_geoipd_" + name +
               " " + kind + "\n";
        out += "signpost_geoipd_" + name + labels + " " + value + "\n";
    };
    for (const auto& c : kCounters)
        metric(std::string(c.name) + "_total", c.help, "counter", std::to_string(sum(c.field)));
    metric("connections", "client connections open", "gauge",
           std::to_string(connections_current.load()));
    metric("reloads_total", "database generations published after a change", "counter",
           std::to_string(reloads.load()));
    metric("reload_failures_total",
           "changed databases refused (broken or unreadable: the previous data kept serving)",
           "counter", std::to_string(reload_failures.load()));
    metric("last_reload_failure_timestamp_seconds",
           "when a changed database was last refused (0: never)", "gauge",
           std::to_string(last_reload_failure.load()));
    for (const auto& g : kTableGauges)
        metric(g.name, g.help, "gauge", std::to_string((this->*g.field).load()));
    metric("table_compile_failures_total", "geo tables that failed to compile", "counter",
           std::to_string(table_compile_failures.load()));
    metric("generation", "generation of the databases being served", "gauge",
           std::to_string(dbs.generation()));
    out +=
        "# HELP signpost_geoipd_database_build_timestamp_seconds when each database says it "
        "was built (its metadata's build_epoch)\n"
        "# TYPE signpost_geoipd_database_build_timestamp_seconds gauge\n";
    std::string ages =
        "# HELP signpost_geoipd_database_age_seconds seconds since each database was built: "
        "alert when one grows stale\n# TYPE signpost_geoipd_database_age_seconds gauge\n";
    for (const auto& db : dbs.databases()) {
        const std::string labels = "{path=" + common::label_value(db->path()) +
                                   ",type=" + common::label_value(db->database_type()) + "}";
        const auto built = static_cast<std::int64_t>(db->build_epoch());
        out += "signpost_geoipd_database_build_timestamp_seconds" + labels + " " +
               std::to_string(built) + "\n";
        ages += "signpost_geoipd_database_age_seconds" + labels + " " +
                std::to_string(now_unix > built ? now_unix - built : 0) + "\n";
    }
    return out + ages;
}

}  // namespace signpost::geoipd
