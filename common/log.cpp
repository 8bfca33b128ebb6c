#include "common/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace signpost::common {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<const char*> g_ident{"signpost"};
const char* level_name(LogLevel l) {
    switch (l) {
        case LogLevel::kDebug:
            return "debug";
        case LogLevel::kInfo:
            return "info";
        case LogLevel::kWarn:
            return "warn";
        case LogLevel::kError:
            return "error";
    }
    return "?";
}
}  // namespace

void set_log_level(LogLevel level) {
    g_level = level;
}
void set_log_ident(const char* ident) {
    g_ident = ident;
}

void log(LogLevel level, const char* fmt, ...) {
    if (level < g_level.load(std::memory_order_relaxed)) return;
    // One write(2) per line so that lines from several threads never interleave.
    char line[2048];
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    tm t;
    gmtime_r(&ts.tv_sec, &t);
    int n = std::snprintf(line, sizeof line,
                          "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ", t.tm_year + 1900,
                          t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                          ts.tv_nsec / 1000000, g_ident.load(), getpid(), level_name(level));
    va_list ap;
    va_start(ap, fmt);
    int m = std::vsnprintf(line + n, sizeof line - static_cast<std::size_t>(n) - 1, fmt, ap);
    va_end(ap);
    std::size_t len = static_cast<std::size_t>(n) + static_cast<std::size_t>(m < 0 ? 0 : m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = ::write(STDERR_FILENO, line, len);
    (void)w;
}

}  // namespace signpost::common
