#pragma once
// Counters that stand still on a healthy server (fallback answers, fail-open
// answers, UDP receive drops), watched once a second so that an operator's
// log says when a degradation starts and when it ends: one warning at the
// first increase, one line when the counter has been still for `quiet`, with
// how many and for how long. Two lines per episode at most, however long it
// lasts or however fast the counter moves.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/log.hpp"

namespace signpost::dnsd {
inline namespace server {

class Degradations {
  public:
    using Clock = std::chrono::steady_clock;
    using Sink = std::function<void(common::LogLevel, const std::string&)>;
    // Lines go to the log unless a sink is given (tests).
    explicit Degradations(std::chrono::seconds quiet = std::chrono::seconds(30), Sink sink = {});
    // A counter to watch: `what` names it in the lines ("fail-open answers"),
    // `why` says what it means and what to do.
    std::size_t watch(std::string what, std::string why);
    // The counter's total now; the first observation is the baseline.
    void observe(std::size_t which, std::uint64_t total, Clock::time_point now);
    bool active(std::size_t which) const { return watches_[which].active; }

  private:
    struct Watch {
        std::string what, why;
        bool seen = false, active = false;
        std::uint64_t last = 0, episode = 0;  // episode: increases since it started
        Clock::time_point started{}, last_increase{}, last_observed{};
    };
    void emit(common::LogLevel level, const std::string& line) const;
    std::chrono::seconds quiet_;
    Sink sink_;
    std::vector<Watch> watches_;
};

}  // namespace server
}  // namespace signpost::dnsd
