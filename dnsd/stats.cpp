#include "dnsd/stats.hpp"

namespace signpost::dnsd {

Stats::Stats(unsigned workers) {
    for (unsigned i = 0; i < workers; ++i) workers_.push_back(std::make_unique<WorkerStats>());
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
    metric("config_generation", "generation of the configuration and zones being served", "gauge",
           generation);
    metric("reloads_total", "successful reloads", "counter", reloads);
    metric("reload_failures_total", "reloads refused (the previous state kept serving)", "counter",
           reload_failures);
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
    out += "\"generation\":" + std::to_string(generation) + "}";
    return out;
}

}  // namespace signpost::dnsd
