#pragma once
// What every daemon does before serving: use the file descriptors the hard
// limit allows, and take SIGINT, SIGTERM and SIGHUP as events on a signalfd
// (SIGPIPE ignored), so that one thread's loop handles them.

namespace signpost::common {

// Raises the soft RLIMIT_NOFILE to the hard limit (at most 2^20); a failure is logged.
void raise_file_limit();
// Blocks SIGINT, SIGTERM and SIGHUP in this thread and the threads it starts
// from here on, ignores SIGPIPE, and returns a signalfd reading them.
int signal_fd();

}  // namespace signpost::common
