#pragma once
// Prometheus's side of a daemon: HTTP GET /metrics on a TCP port, on its own
// thread and event loop, so that scrapes never wait on (or hold up) anything
// else. The port may be reachable from the network, so it is built to be
// abused: at most kMaxClients connections (more are refused and said once a
// minute), request headers within kHeaderDeadline, the whole exchange within
// kTotalDeadline, requests of at most kMaxRequest bytes; anything but
// GET /metrics (or GET /) gets 404.

#include <chrono>
#include <functional>
#include <string>
#include <thread>

namespace signpost::common {

// A label value as the exposition format writes it: quoted, with \\, " and
// newlines escaped.
std::string label_value(const std::string& v);

class MetricsServer {
  public:
    static constexpr std::size_t kMaxClients = 64;
    static constexpr std::size_t kMaxRequest = 8192;
    static constexpr auto kHeaderDeadline = std::chrono::seconds(5);
    static constexpr auto kTotalDeadline = std::chrono::seconds(15);

    // "address:port", "[v6]:port", or a port alone (127.0.0.1: metrics are for
    // a local scraper unless an address says otherwise). The bound, listening
    // socket, or -1 with `error`. Bind before dropping privileges.
    static int listen(const std::string& where, std::string& error);
    // Whether `where` is a valid listen text (for config checks).
    static bool valid(const std::string& where);

    // Serves `listen_fd` (owned from here on), answering with `render()`.
    MetricsServer(int listen_fd, std::function<std::string()> render);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;
    bool start(std::string& error);
    void stop();  // idempotent

  private:
    void run();
    int listen_fd_;
    int stop_fd_ = -1;
    std::function<std::string()> render_;
    std::thread thread_;
};

}  // namespace signpost::common
