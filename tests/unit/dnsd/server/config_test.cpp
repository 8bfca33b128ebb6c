#include "dnsd/server/config.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace signpost::dnsd;

TEST(Config, RestartOnlyChangesNameEachStartupSetting) {
    Config a;
    a.listen.push_back(*parse_listen("127.0.0.1:53"));
    Config b = a;
    b.edns_payload = 4096;  // applied by a reload: not named
    EXPECT_TRUE(restart_only_changes(a, b).empty());
    b.listen.push_back(*parse_listen("[::1]:53"));
    b.threads = 4;
    b.udp_rcvbuf = 0;
    b.tcp_idle_timeout_ms = 1;
    b.tcp_max_connections = 2;
    b.tcp_max_per_client = 3;
    b.control_socket = "/run/x.sock";
    b.metrics_listen = "127.0.0.1:9153";
    EXPECT_EQ(restart_only_changes(a, b),
              (std::vector<std::string>{"listen", "threads", "tcp_idle_timeout_ms",
                                        "tcp_max_connections", "tcp_max_per_client", "udp_rcvbuf",
                                        "control_socket", "metrics_listen"}));
    Config c = a;
    c.listen[0] = *parse_listen("127.0.0.1:5353");  // same count, other port
    EXPECT_EQ(restart_only_changes(a, c), std::vector<std::string>{"listen"});
}
