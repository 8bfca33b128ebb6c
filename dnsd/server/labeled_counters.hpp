#pragma once
// Counters with labels, for where traffic goes: answers per redirect and
// tier, per redirect and node. A series gets a slot once (when the state that
// first names it is built) and keeps it for the life of the process, so its
// counter survives reloads and only ever grows; each worker adds into its own
// array of slots (WorkerStats::labeled), summed when metrics are rendered.
// The number of series is bounded: past kSlots - 1 they share one overflow
// series, so a config with thousands of nodes cannot blow up the metrics.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace signpost::dnsd {
inline namespace server {

class LabeledCounters {
  public:
    static constexpr std::uint32_t kSlots = 16384;
    static constexpr std::uint32_t kOverflow = kSlots - 1;

    // A metric family (its name after signpost_dnsd_, and its help), then
    // its series by label text (`redirect="video.cdn.example.net",tier="asn"`).
    void family(const std::string& name, const std::string& help);
    std::uint32_t slot(const std::string& family, const std::string& labels);
    // One array of kSlots counters per worker, made before any worker runs.
    void allocate(unsigned workers);
    std::atomic<std::uint64_t>* worker(unsigned i) const { return arrays_[i].get(); }
    // Every series with its sum over the workers, in Prometheus text.
    void render(std::string& out) const;
    std::uint64_t sum(std::uint32_t slot) const;
    std::size_t series() const;

  private:
    struct Family {
        std::string help;
        std::vector<std::pair<std::string, std::uint32_t>> series;  // in first-seen order
    };
    mutable std::mutex mu_;
    std::vector<std::string> order_;  // families in first-seen order
    std::map<std::string, Family> families_;
    std::map<std::pair<std::string, std::string>, std::uint32_t> slots_;
    std::uint32_t next_ = 0;
    bool overflowed_ = false;
    std::vector<std::unique_ptr<std::atomic<std::uint64_t>[]>> arrays_;
};

}  // namespace server
}  // namespace signpost::dnsd
