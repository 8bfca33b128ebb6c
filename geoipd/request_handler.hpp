#pragma once
// One request line in, one response line appended: the whole protocol logic,
// apart from the socket handling, so that it can be fuzzed and tested alone.

#include <string>
#include <string_view>

#include "geoipd/database_set.hpp"
#include "geoipd/stats.hpp"

namespace signpost::geoipd {

void handle_request_line(std::string_view line, const DatabaseSet& set, const Stats& stats,
                         WorkerCounters& counters, std::string& out);

}  // namespace signpost::geoipd
