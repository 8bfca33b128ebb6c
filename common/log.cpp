#include "common/log.hpp"

#include <string_view>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace signpost::common {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
std::atomic<const char*> g_ident{"signpost"};

// stderr is the journal when JOURNAL_STREAM names its device and inode
// (systemd.exec(5)): then each line starts with its syslog priority ("<4>"),
// so `journalctl -p warning` works, and the journal adds time and pid itself.
bool stderr_is_journal() {
    const char* js = std::getenv("JOURNAL_STREAM");
    if (!js) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    struct stat st;
    return ::fstat(STDERR_FILENO, &st) == 0 && static_cast<unsigned long long>(st.st_dev) == dev &&
           static_cast<unsigned long long>(st.st_ino) == ino;
}
int syslog_priority(LogLevel l) {
    switch (l) {
        case LogLevel::kDebug:
            return 7;
        case LogLevel::kInfo:
            return 6;
        case LogLevel::kWarn:
            return 4;
        case LogLevel::kError:
            return 3;
    }
    return 6;
}
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
    static const bool journal = stderr_is_journal();
    int n;
    if (journal) {
        n = std::snprintf(line, sizeof line, "<%d>%s: ", syslog_priority(level), level_name(level));
    } else {
        timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        tm t;
        gmtime_r(&ts.tv_sec, &t);
        n = std::snprintf(line, sizeof line,
                          "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ", t.tm_year + 1900,
                          t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                          ts.tv_nsec / 1000000, g_ident.load(), getpid(), level_name(level));
    }
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

LogLevel log_level_named(const char* name) {
    const std::string_view s(name);
    if (s == "debug") return LogLevel::kDebug;
    if (s == "warn") return LogLevel::kWarn;
    if (s == "error") return LogLevel::kError;
    return LogLevel::kInfo;
}

}  // namespace signpost::common
