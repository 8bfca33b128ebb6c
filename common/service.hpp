#pragma once
// Telling the service manager what the daemon is doing (sd_notify(3)):
// READY=1 once the state is loaded and the sockets are bound, RELOADING=1 /
// READY=1 around a reload, STATUS= lines for `systemctl status`, and the
// watchdog. Without NOTIFY_SOCKET (not under systemd, or not Type=notify)
// every call is a no-op.
//
// Also the version every binary prints with --version.

#include <chrono>
#include <string>

namespace signpost::common {

void notify_ready(const std::string& status);
void notify_reloading();
void notify_status(const std::string& status);
// The interval at which notify_watchdog() must be called (half of
// WATCHDOG_USEC), or zero when no watchdog is asked for.
std::chrono::milliseconds watchdog_interval();
void notify_watchdog();

// "signpost 0.1.0 (git 1a2b3c4d)": the project version and the commit built.
std::string version_text(const char* program);

}  // namespace signpost::common
