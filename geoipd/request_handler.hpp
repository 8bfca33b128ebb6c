#pragma once
// One request line in, one response line appended: the whole protocol logic,
// apart from the socket handling, so that it can be fuzzed and tested alone.

#include <string>
#include <string_view>

#include "geoipd/database_set.hpp"
#include "geoipd/stats.hpp"

namespace signpost::geoipd {

// What the connection must do besides sending the appended bytes.
struct RequestEffects {
    // `table`/`subscribe`: the appended line is the table line; the server
    // attaches set.table()'s memfd to its first byte.
    bool attach_table = false;
    bool subscribe = false;  // and push every newer generation from now on
};

void handle_request_line(std::string_view line, const DatabaseSet& set, const Stats& stats,
                         WorkerCounters& counters, std::string& out,
                         RequestEffects* effects = nullptr);

// The line a table (or a pushed generation) is announced with:
// {"table":{...describe_json...}}\n
void append_table_line(std::string& out, const common::GeoTable& table);

}  // namespace signpost::geoipd
