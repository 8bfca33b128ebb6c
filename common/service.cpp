#include "common/service.hpp"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdint>

#include "common/version.hpp"

namespace signpost::common {

namespace {
void send(const std::string& state) {
    // unset_environment = 0: the workers' children (none today) may notify too.
    sd_notify(0, state.c_str());
}
std::string one_line(const std::string& s) {
    std::string out = s;
    for (auto& c : out)
        if (c == '\n') c = ' ';
    return out;
}
}  // namespace

void notify_ready(const std::string& status) {
    send("READY=1\nSTATUS=" + one_line(status));
}

void notify_reloading() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000u +
                      static_cast<std::uint64_t>(ts.tv_nsec) / 1000u;
    send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading");
}

void notify_status(const std::string& status) {
    send("STATUS=" + one_line(status));
}

std::chrono::milliseconds watchdog_interval() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(usec / 2000);
}

void notify_watchdog() {
    send("WATCHDOG=1");
}

std::string version_text(const char* program) {
    return std::string(program) + " (signpost) " + kVersion + " (git " + kGitCommit + ")";
}

}  // namespace signpost::common
