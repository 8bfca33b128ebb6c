#pragma once
// Logging to stderr, one line per event, with a UTC timestamp and a level, so
// that the daemons run well under systemd/journald or a plain terminal.

namespace signpost::common {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

void set_log_level(LogLevel level);
// "debug", "info", "warn", "error" (anything else: info, checked by each config).
LogLevel log_level_named(const char* name);
void set_log_ident(const char* ident);
void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define SP_LOG_INFO(...) ::signpost::common::log(::signpost::common::LogLevel::kInfo, __VA_ARGS__)
#define SP_LOG_WARN(...) ::signpost::common::log(::signpost::common::LogLevel::kWarn, __VA_ARGS__)
#define SP_LOG_ERROR(...) ::signpost::common::log(::signpost::common::LogLevel::kError, __VA_ARGS__)
#define SP_LOG_DEBUG(...) ::signpost::common::log(::signpost::common::LogLevel::kDebug, __VA_ARGS__)

}  // namespace signpost::common
