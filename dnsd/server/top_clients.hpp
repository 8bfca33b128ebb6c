#pragma once
// The top ASNs and countries of redirect clients over a sliding window (the
// CDN that inspired signpost lived by its "top 10 AS stats"): once a second
// the main thread drains every worker's client samples (stats/client_samples.hpp),
// looks each up in the geo table, and adds it, weighted by the answers its
// worker gave that second, into the current bucket (10 s); the window is the
// last 30 buckets. Asked by `dnsdctl top` and rendered in the metrics as the
// top 10 of each (bounded cardinality: rank is a label, 10 series each).

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/geo_table.hpp"
#include "dnsd/server/stats.hpp"

namespace signpost::dnsd {
inline namespace server {

class TopClients {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::size_t kKeysPerBucket = 2048;  // more distinct keys share "other"

    explicit TopClients(std::chrono::seconds window = std::chrono::seconds(300),
                        std::chrono::seconds bucket = std::chrono::seconds(10));
    // Workers [0, workers) of `stats`: their samples since the last call.
    // `table` may be null (no geo table yet): the samples count as unknown.
    void collect(Stats& stats, unsigned workers, const common::GeoTable* table,
                 Clock::time_point now);

    struct Entry {
        std::string key;   // "AS3320", "DE"; "AS0": not in the database, "--": no country
        std::string name;  // the AS organisation (ASNs), empty otherwise
        double queries = 0;
    };
    struct Top {
        std::vector<Entry> asns, countries;
        double queries = 0;  // redirect answers in the window (estimated from the samples)
        std::uint64_t samples = 0;
        long long window_s = 0;  // how much of the window has passed (up to its length)
    };
    Top top(std::size_t k) const;
    // The top 10 of each as Prometheus gauges.
    void render(std::string& out) const;
    // {"ok":true,"text":"...","asns":[...],"countries":[...]} for dnsdctl top.
    std::string json(std::size_t k) const;

  private:
    struct Bucket {
        long long id = 0;  // now / bucket length
        std::unordered_map<std::uint32_t, double> asn;
        std::unordered_map<std::uint16_t, double> country;
        double queries = 0;
        std::uint64_t samples = 0;
    };
    Bucket& current(Clock::time_point now);
    const std::chrono::seconds window_, bucket_;
    mutable std::mutex mu_;
    std::deque<Bucket> buckets_;
    std::unordered_map<std::uint32_t, std::string> orgs_;  // ASN -> organisation, as last seen
    std::vector<std::uint64_t> last_answers_;
    Clock::time_point started_{};
    bool have_start_ = false;
};

}  // namespace server
}  // namespace signpost::dnsd
