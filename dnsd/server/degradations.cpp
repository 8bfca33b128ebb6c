#include "dnsd/server/degradations.hpp"

#include <algorithm>

namespace signpost::dnsd {
inline namespace server {

namespace {
long long seconds_between(Degradations::Clock::time_point a, Degradations::Clock::time_point b) {
    return std::chrono::duration_cast<std::chrono::seconds>(b - a).count();
}
}  // namespace

Degradations::Degradations(std::chrono::seconds quiet, Sink sink)
    : quiet_(quiet), sink_(std::move(sink)) {}

std::size_t Degradations::watch(std::string what, std::string why) {
    watches_.push_back(Watch{std::move(what), std::move(why)});
    return watches_.size() - 1;
}

void Degradations::emit(common::LogLevel level, const std::string& line) const {
    if (sink_) {
        sink_(level, line);
    } else {
        common::log(level, "%s", line.c_str());
    }
}

void Degradations::observe(std::size_t which, std::uint64_t total, Clock::time_point now) {
    Watch& w = watches_[which];
    if (!w.seen || total < w.last) {  // the baseline (or a counter that was reset)
        w.seen = true;
        w.last = total;
        w.last_observed = now;
        return;
    }
    const std::uint64_t delta = total - w.last;
    if (delta > 0) {
        if (!w.active) {
            w.active = true;
            w.started = now;
            w.episode = 0;
            const long long over = std::max(1LL, seconds_between(w.last_observed, now));
            emit(common::LogLevel::kWarn, "degraded: " + w.what + " started (" +
                                              std::to_string(delta) + " in the last " +
                                              std::to_string(over) + " s): " + w.why);
        }
        w.episode += delta;
        w.last_increase = now;
    } else if (w.active && now - w.last_increase >= quiet_) {
        w.active = false;
        emit(common::LogLevel::kInfo,
             "recovered: " + w.what + " stopped: " + std::to_string(w.episode) + " over " +
                 std::to_string(std::max(1LL, seconds_between(w.started, w.last_increase))) +
                 " s, none in the last " + std::to_string(seconds_between(w.last_increase, now)) +
                 " s");
    }
    w.last = total;
    w.last_observed = now;
}

}  // namespace server
}  // namespace signpost::dnsd
