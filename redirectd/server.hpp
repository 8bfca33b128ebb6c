#pragma once
// The HTTP/1.1 side of redirectd, on Boost.Beast (HTTP parsing and
// serialisation, from the Boost that dnsd already depends on) over
// Boost.Asio: keep-alive and pipelined requests, a header size bound (431),
// a cap on connections in total and per client address, an idle deadline
// (no request) and a header deadline (a request's header must be complete
// this long after its first byte arrives), so neither a silent client nor
// one that trickles bytes holds a slot. GET and HEAD for configured hosts
// get the redirect; other methods 405, unknown hosts 421, malformed
// requests 400. HTTPS on the tls_listen addresses (Asio's OpenSSL stream):
// the handshake is held to the header deadline, the certificate re-read on
// every reload.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/snapshot.hpp"
#include "dnsd/redirect/health_view.hpp"
#include "redirectd/decide.hpp"

namespace signpost::redirectd {

struct Counters {
    std::atomic<std::uint64_t> requests{0}, redirects{0}, head{0};
    std::atomic<std::uint64_t> bad_request{0}, method_not_allowed{0}, misdirected{0},
        header_too_large{0}, unavailable{0};
    std::atomic<std::uint64_t> accepted{0}, refused_total{0}, refused_per_client{0};
    std::atomic<std::uint64_t> idle_closed{0}, header_timeouts{0};
    std::atomic<std::uint64_t> tls_handshakes{0}, tls_handshake_failures{0};
    std::atomic<std::int64_t> open{0};
    std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(dnsd::Tier::kNone) + 1>
        by_tier{};  // dnsd::Tier
    // By node name: a slot per name, given the first time a state names it.
    static constexpr std::size_t kNodeSlots = 4096;
    std::array<std::atomic<std::uint64_t>, kNodeSlots> by_node{};
    std::uint32_t slot(const std::string& node);  // kNodeSlots - 1: overflow
    void render(std::string& out) const;

  private:
    mutable std::mutex mu_;
    std::map<std::string, std::uint32_t> slots_;
};

// Whether tls_certificate and tls_key load (for --check-config); true without tls_listen.
bool check_tls(const HttpConfig& config, std::string& error);

class Server {
  public:
    Server(const HttpConfig& startup, common::Snapshot<RedirectState>& state,
           common::Snapshot<dnsd::HealthState>& health, Counters& counters);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;
    // Binds every listen and tls_listen address (before privileges are dropped).
    bool bind(std::string& error);
    // Loads tls_certificate and tls_key into the context new TLS connections
    // use (at startup, and on each reload: a renewed certificate). On failure
    // the current one stays and `error` names the file and OpenSSL's reason.
    bool load_tls(const HttpConfig& config, std::string& error);
    void start(unsigned threads);
    void stop();

    struct Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace signpost::redirectd
