#include "dnsd/server/stats.hpp"

#include "dnsd/server/sockets.hpp"

namespace signpost::dnsd {
inline namespace server {

Stats::Stats(unsigned workers, LabeledCounters* labeled) : labeled_(labeled) {
    for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerStats>());
    if (labeled_) {
        labeled_->allocate(workers);
        for (unsigned i = 0; i < workers; ++i) workers_[i]->labeled = labeled_->worker(i);
    }
}

std::string Stats::prometheus(std::uint64_t generation, std::uint64_t reloads,
                              std::uint64_t reload_failures) const {
    std::string out;
    auto metric = [&](const char* name, const char* help, const char* kind, std::uint64_t v) {
        out += "# HELP signpost_dnsd_";
        out += name;
        out += std::string(" ") + help + "\n# TYPE signpost_dnsd_" + name + " " + kind + "\n";
        out += std::string("signpost_dnsd_") + name + " " + std::to_string(v) + "\n";
    };
#define SP_SUM(name, help)                                                           \
    {                                                                                \
        std::uint64_t s = 0;                                                         \
        for (const auto& w : workers_) s += w->name.load(std::memory_order_relaxed); \
        metric(#name "_total", help, "counter", s);                                  \
    }
    SIGNPOST_DNSD_COUNTERS(SP_SUM)
#undef SP_SUM
    metric("udp_receive_drops_total",
           "UDP queries the kernel dropped because a socket's receive buffer was full "
           "(raise udp_rcvbuf or threads)",
           "counter", udp_receive_drops());
    metric("config_generation", "generation of the configuration and zones being served", "gauge",
           generation);
    metric("reloads_total", "successful reloads", "counter", reloads);
    metric("reload_failures_total", "reloads refused (the previous state kept serving)", "counter",
           reload_failures);
    if (labeled_) labeled_->render(out);
    if (extra_) extra_(out);
    if (geo_status_) {
        const GeoStatus g = geo_status_();
        metric("geoipd_connected", "1 while subscribed to geoipd's geo table, else 0", "gauge",
               g.connected);
        metric("geo_table_loaded",
               "1 once a geo table is in use (0: geo maps answer from fallback)", "gauge",
               g.have_table);
        metric("geo_table_generation", "geoipd's database generation of the table in use", "gauge",
               g.table_generation);
        metric("geo_table_age_seconds", "seconds since geoipd compiled the table in use", "gauge",
               g.table_age_s);
        metric("geo_table_ranges_v4", "IPv4 ranges of the table in use", "gauge",
               g.table_ranges_v4);
        metric("geo_table_ranges_v6", "IPv6 ranges of the table in use", "gauge",
               g.table_ranges_v6);
        metric("decision_ranges", "decision ranges of every compiled map, both families", "gauge",
               g.decision_ranges);
        metric("decision_compile_microseconds",
               "time to compile every map against the table in use", "gauge",
               static_cast<std::uint64_t>(g.compile_ms * 1000.0));
        metric("geo_tables_received_total", "new geo tables taken from geoipd", "counter",
               g.tables_received);
        metric("geo_tables_refused_total", "geo tables refused (failed validation)", "counter",
               g.tables_refused);
        metric("geoipd_disconnects_total", "geoipd connections lost after a table", "counter",
               g.disconnects);
    }
    return out;
}

std::string Stats::json(std::uint64_t generation) const {
    std::string out = "{";
#define SP_JSON(name, help)                                                          \
    {                                                                                \
        std::uint64_t s = 0;                                                         \
        for (const auto& w : workers_) s += w->name.load(std::memory_order_relaxed); \
        out += "\"" #name "\":" + std::to_string(s) + ",";                           \
    }
    SIGNPOST_DNSD_COUNTERS(SP_JSON)
#undef SP_JSON
    out += "\"udp_receive_drops\":" + std::to_string(udp_receive_drops()) + ",";
    if (geo_status_) {
        const GeoStatus g = geo_status_();
        out += "\"geoipd_connected\":" + std::string(g.connected ? "true" : "false") + ",";
        out += "\"geo_table_generation\":" + std::to_string(g.table_generation) + ",";
        out += "\"geo_table_age_s\":" + std::to_string(g.table_age_s) + ",";
        out += "\"decision_ranges\":" + std::to_string(g.decision_ranges) + ",";
        out += "\"geo_tables_refused\":" + std::to_string(g.tables_refused) + ",";
    }
    out += "\"generation\":" + std::to_string(generation) + "}";
    return out;
}

void Stats::sample_clients() {
    samples_.clear();
    for (auto& w : workers_) {
        samples_.push_back(std::make_unique<ClientSamples>());
        w->samples = samples_.back().get();
    }
}

std::uint64_t Stats::total(std::atomic<std::uint64_t> WorkerStats::*counter) const {
    std::uint64_t s = 0;
    for (const auto& w : workers_) s += ((*w).*counter).load(std::memory_order_relaxed);
    return s;
}

std::uint64_t Stats::udp_receive_drops() const {
    std::uint64_t sum = 0;
    for (int fd : udp_fds_) {
        const long long d = receive_drops(fd);
        if (d > 0) sum += static_cast<std::uint64_t>(d);
    }
    return sum;
}

}  // namespace server
}  // namespace signpost::dnsd
