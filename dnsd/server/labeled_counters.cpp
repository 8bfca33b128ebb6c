#include "dnsd/server/labeled_counters.hpp"

namespace signpost::dnsd {
inline namespace server {

void LabeledCounters::family(const std::string& name, const std::string& help) {
    std::lock_guard lock(mu_);
    if (families_.count(name)) return;
    families_[name].help = help;
    order_.push_back(name);
}

std::uint32_t LabeledCounters::slot(const std::string& family, const std::string& labels) {
    std::lock_guard lock(mu_);
    const auto key = std::make_pair(family, labels);
    if (auto it = slots_.find(key); it != slots_.end()) return it->second;
    if (next_ >= kOverflow) {
        overflowed_ = true;
        return kOverflow;
    }
    const std::uint32_t s = next_++;
    slots_.emplace(key, s);
    families_[family].series.emplace_back(labels, s);
    return s;
}

void LabeledCounters::allocate(unsigned workers) {
    arrays_.clear();
    for (unsigned i = 0; i < workers; ++i) {
        arrays_.push_back(std::make_unique<std::atomic<std::uint64_t>[]>(kSlots));
        for (std::uint32_t k = 0; k < kSlots; ++k)
            arrays_.back()[k].store(0, std::memory_order_relaxed);
    }
}

std::uint64_t LabeledCounters::sum(std::uint32_t slot) const {
    std::uint64_t s = 0;
    for (const auto& a : arrays_) s += a[slot].load(std::memory_order_relaxed);
    return s;
}

std::size_t LabeledCounters::series() const {
    std::lock_guard lock(mu_);
    return slots_.size();
}

void LabeledCounters::render(std::string& out) const {
    std::lock_guard lock(mu_);
    for (const auto& name : order_) {
        const Family& f = families_.at(name);
        out += "# HELP signpost_dnsd_" + name + " " + f.help + "\n";
        out += "# TYPE signpost_dnsd_" + name + " counter\n";
        for (const auto& [labels, s] : f.series)
            out += "signpost_dnsd_" + name + "{" + labels + "} " + std::to_string(sum(s)) + "\n";
    }
    if (overflowed_) {
        out +=
            "# HELP signpost_dnsd_labeled_overflow_total answers counted in no series: more "
            "series than the " +
            std::to_string(kOverflow) + " kept\n";
        out += "# TYPE signpost_dnsd_labeled_overflow_total counter\n";
        out += "signpost_dnsd_labeled_overflow_total " + std::to_string(sum(kOverflow)) + "\n";
    }
}

}  // namespace server
}  // namespace signpost::dnsd
