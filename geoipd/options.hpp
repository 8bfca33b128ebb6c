#pragma once
// geoipd's command line and config file (the same option names in both; the
// file is "name = value" lines, as Boost.Program_options reads them).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/privileges.hpp"
#include "geoipd/schema.hpp"

namespace signpost::geoipd {

struct Options {
    std::string socket_path;
    common::SocketAccess socket_access;  // --socket-mode, --socket-group
    std::vector<DatabaseSpec> databases;
    unsigned threads = 1;
    unsigned max_clients = 1024;
    std::chrono::milliseconds stat_interval{10000};
    std::chrono::milliseconds debounce{200};
    std::string log_level = "info";
    bool check_config = false;
    std::string export_table;  // --export-table FILE: compile, write the image there, exit
    bool use_inotify = true;
    std::string user, group;  // run as, once the socket is bound (empty: as started)
    bool allow_root = false;
    std::string metrics_listen;  // --metrics-listen: HTTP GET /metrics here (empty: none)
};

enum class ParseOutcome { kRun, kExitOk, kExitError };

// Parses argv (and --config FILE). Prints help or errors itself.
ParseOutcome parse_options(int argc, char** argv, Options& out);

}  // namespace signpost::geoipd
