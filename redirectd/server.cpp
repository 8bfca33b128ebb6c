#include "redirectd/server.hpp"

#include <utility>  // before Asio, which uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <optional>
#include <type_traits>

#include "common/log.hpp"
#include "common/metrics_server.hpp"

namespace signpost::redirectd {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::uint32_t Counters::slot(const std::string& node) {
    std::lock_guard lock(mu_);
    auto it = slots_.find(node);
    if (it != slots_.end()) return it->second;
    if (slots_.size() + 1 >= kNodeSlots) return kNodeSlots - 1;
    const auto s = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace(node, s);
    return s;
}

void Counters::render(std::string& out) const {
    auto metric = [&](const char* name, const char* type, const char* help, auto value) {
        out += std::string("# HELP signpost_redirectd_") + name + " " + help +
               "\n# TYPE signpost_redirectd_" + name + " " + type + "\nsignpost_redirectd_" + name +
               " " + std::to_string(value) + "\n";
    };
    metric("requests_total", "counter", "HTTP requests answered (any status)", requests.load());
    metric("redirects_total", "counter", "requests answered with a redirect", redirects.load());
    metric("head_requests_total", "counter", "HEAD requests (answered like GET, no body)",
           head.load());
    metric("bad_requests_total", "counter", "malformed requests answered 400", bad_request.load());
    metric("method_not_allowed_total", "counter", "methods other than GET and HEAD (405)",
           method_not_allowed.load());
    metric("misdirected_total", "counter", "requests for hosts not configured (421)",
           misdirected.load());
    metric("header_too_large_total", "counter", "requests over max_header_bytes (431)",
           header_too_large.load());
    metric("unavailable_total", "counter", "requests no node could take (503)", unavailable.load());
    metric("connections_accepted_total", "counter", "TCP connections accepted", accepted.load());
    metric("connections_refused_total", "counter", "connections closed at once: max_connections",
           refused_total.load());
    metric("connections_refused_per_client_total", "counter",
           "connections closed at once: max_per_client", refused_per_client.load());
    metric("idle_closed_total", "counter", "connections closed after idle_timeout_ms",
           idle_closed.load());
    metric("header_timeouts_total", "counter",
           "connections closed because a request header was not complete in header_timeout_ms",
           header_timeouts.load());
    metric("connections_open", "gauge", "open connections", open.load());
    metric("tls_handshakes_total", "counter", "TLS handshakes completed (tls_listen)",
           tls_handshakes.load());
    metric("tls_handshake_failures_total", "counter",
           "TLS connections closed before a request: a failed or late handshake",
           tls_handshake_failures.load());
    out +=
        "# HELP signpost_redirectd_redirects_by_tier_total redirects by the tier that decided "
        "them\n# TYPE signpost_redirectd_redirects_by_tier_total counter\n";
    for (dnsd::Tier t : {dnsd::Tier::kCidr, dnsd::Tier::kAsn, dnsd::Tier::kNearest,
                         dnsd::Tier::kCountry, dnsd::Tier::kContinent, dnsd::Tier::kDefault,
                         dnsd::Tier::kFallback, dnsd::Tier::kFailOpen})
        out += std::string("signpost_redirectd_redirects_by_tier_total{tier=\"") +
               dnsd::tier_name(t) + "\"} " +
               std::to_string(by_tier[static_cast<std::size_t>(t)].load()) + "\n";
    out +=
        "# HELP signpost_redirectd_redirects_by_node_total redirects by the node sent to\n"
        "# TYPE signpost_redirectd_redirects_by_node_total counter\n";
    std::lock_guard lock(mu_);
    for (const auto& [name, s] : slots_)
        out += "signpost_redirectd_redirects_by_node_total{node=" + common::label_value(name) +
               "} " + std::to_string(by_node[s].load()) + "\n";
}

struct Server::Impl {
    Impl(const HttpConfig& c, common::Snapshot<RedirectState>& s,
         common::Snapshot<dnsd::HealthState>& h, Counters& k)
        : config(c), state(s), health(h), counters(k) {}

    HttpConfig config;  // the startup settings (sockets, limits)
    common::Snapshot<RedirectState>& state;
    common::Snapshot<dnsd::HealthState>& health;
    Counters& counters;
    // Before the io_context: sessions still queued in it when it is
    // destroyed release their client's count here.
    std::mutex clients_mu;
    std::map<common::IpAddress, unsigned> per_client;
    net::io_context ioc;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
    std::vector<bool> acceptor_tls;  // per acceptor: a tls_listen address
    std::mutex tls_mu;
    std::shared_ptr<net::ssl::context> tls;  // under tls_mu; each session keeps its own
    std::vector<std::unique_ptr<net::steady_timer>> retry_timers;  // one per acceptor
    std::vector<std::thread> threads;
    std::atomic<std::int64_t> last_accept_error_log{0};

    void accept(std::size_t i);
    void release(const common::IpAddress& ip) {
        std::lock_guard lock(clients_mu);
        auto it = per_client.find(ip);
        if (it != per_client.end() && --it->second == 0) per_client.erase(it);
    }
};

namespace {

std::string_view sv(beast::string_view s) {
    return {s.data(), s.size()};
}

common::IpAddress to_ip(const net::ip::address& a) {
    if (a.is_v4()) return common::IpAddress::v4(a.to_v4().to_uint());
    const auto b = a.to_v6().to_bytes();
    return common::IpAddress::from_bytes(common::Family::kV6, b.data()).unmapped();
}

using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// One connection: Stream is beast::tcp_stream (HTTP) or TlsStream (HTTPS).
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
    static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
    using std::enable_shared_from_this<Session<Stream>>::shared_from_this;

  public:
    Session(tcp::socket&& s, Server::Impl& srv, common::IpAddress peer) requires(!kTls)
        : stream_(std::move(s)),
          buffer_(srv.config.max_header_bytes + 1024),
          srv_(srv),
          peer_(peer) {}
    Session(tcp::socket&& s, std::shared_ptr<net::ssl::context> tls, Server::Impl& srv,
            common::IpAddress peer) requires(kTls)
        : tls_(std::move(tls)),
          stream_(std::move(s), *tls_),
          buffer_(srv.config.max_header_bytes + 1024),
          srv_(srv),
          peer_(peer) {}
    ~Session() {
        --srv_.counters.open;
        srv_.release(peer_);
    }
    // From the acceptor's handler: everything the session does, its first
    // operation included, runs on the connection's own strand (with threads
    // > 1, starting the handshake from the acceptor's thread raced the
    // strand's first completion on the socket's state).
    void run() {
        net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->start(); });
    }

  private:
    void start() {
        if constexpr (kTls) {
            // The handshake is the start of the first request: the header
            // deadline holds it (a client that connects and never says hello
            // is closed like one that never finishes its header).
            lowest().expires_after(std::chrono::milliseconds(srv_.config.header_timeout_ms));
            stream_.async_handshake(net::ssl::stream_base::server,
                                    [self = shared_from_this()](beast::error_code ec) {
                                        if (ec) {
                                            ++self->srv_.counters.tls_handshake_failures;
                                            return self->close();
                                        }
                                        ++self->srv_.counters.tls_handshakes;
                                        self->handshaken_ = true;
                                        self->wait_request();
                                    });
        } else {
            wait_request();
        }
    }

    beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

    // Until the next request's first byte: the idle deadline.
    void wait_request() {
        if (buffer_.size() > 0) return read_header();  // pipelined: already here
        lowest().expires_after(std::chrono::milliseconds(srv_.config.idle_timeout_ms));
        stream_.async_read_some(buffer_.prepare(std::min<std::size_t>(4096, buffer_.max_size())),
                                [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                                    if (ec) {
                                        if (ec == beast::error::timeout)
                                            ++self->srv_.counters.idle_closed;
                                        return self->close();
                                    }
                                    self->buffer_.commit(n);
                                    self->read_header();
                                });
    }

    // The request, from its first byte: the header deadline. What is
    // already buffered (usually the whole request) is parsed here and now;
    // only the rest of an incomplete one is read asynchronously.
    void read_header() {
        parser_.emplace();
        parser_->header_limit(srv_.config.max_header_bytes);
        parser_->body_limit(64 * 1024);
        parser_->eager(true);
        beast::error_code ec;
        while (buffer_.size() > 0 && !parser_->is_done()) {
            const std::size_t used = parser_->put(buffer_.data(), ec);
            buffer_.consume(used);
            if (ec || used == 0) break;
        }
        if (ec == http::error::need_more) ec = {};
        if (ec || parser_->is_done()) return on_read(ec);
        lowest().expires_after(std::chrono::milliseconds(srv_.config.header_timeout_ms));
        http::async_read(
            stream_, buffer_, *parser_,
            [self = shared_from_this()](beast::error_code e, std::size_t) { self->on_read(e); });
    }

    void on_read(beast::error_code ec) {
        if (ec == http::error::end_of_stream || ec == net::error::eof ||
            ec == net::error::connection_reset || ec == net::ssl::error::stream_truncated ||
            ec.category() == net::error::get_ssl_category())
            return close();  // (a TLS error: the stream cannot carry an answer)
        if (ec == beast::error::timeout) {
            ++srv_.counters.header_timeouts;
            return close();
        }
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
            ++srv_.counters.header_too_large;
            return error(431, "the request header is larger than this server takes");
        }
        if (ec == http::error::body_limit) {
            ++srv_.counters.bad_request;
            return error(413, "a redirect request has no body");
        }
        if (ec) {
            ++srv_.counters.bad_request;
            return error(400, "malformed request: " + ec.message());
        }
        handle(parser_->get());
    }

    void handle(const http::request<http::string_body>& req) {
        ++srv_.counters.requests;
        const bool head = req.method() == http::verb::head;
        const unsigned version = req.version();
        const bool keep = req.keep_alive();
        if (req.method() != http::verb::get && !head) {
            ++srv_.counters.method_not_allowed;
            respond(405, "Allow: GET, HEAD\r\n", "only GET and HEAD are redirected\n", false,
                    version, keep);
            return send(keep);
        }
        const auto host_it = req.find(http::field::host);
        const std::size_t hosts = req.count(http::field::host);
        if ((host_it == req.end() && version >= 11) || hosts > 1) {
            ++srv_.counters.bad_request;
            return error(400,
                         hosts > 1 ? "more than one Host header (RFC 9112 3.2)"
                                   : "HTTP/1.1 needs a Host header",
                         version, head);
        }
        const std::string host =
            host_it == req.end() ? std::string() : host_name(sv(host_it->value()));
        if (host_it != req.end() && host.empty()) {
            ++srv_.counters.bad_request;
            return error(400, "a malformed Host header", version, head);
        }
        const auto st = srv_.state.load();
        const auto hs = srv_.health.load();
        const dnsd::HealthState* h = health_.get(hs, st->edges);
        const HttpConfig& c = *st->config;
        const common::IpAddress client = client_address(
            peer_, all_of(req, c.client_header), c.trusted_proxies, c.client_header_is_forwarded());
        static thread_local std::uint64_t rr = 0;
        const Outcome o = decide_request(*st, h->view, host, sv(req.target()), client, rr++);
        if (o.status == 421) ++srv_.counters.misdirected;
        if (o.status == 400) ++srv_.counters.bad_request;
        if (o.status == 503) ++srv_.counters.unavailable;
        if (o.location.empty()) {
            respond(o.status, o.status == 503 ? "Retry-After: 5\r\n" : "", o.why + "\n", head,
                    version, keep);
            return send(keep);
        }
        ++srv_.counters.redirects;
        if (head) ++srv_.counters.head;
        ++srv_.counters.by_tier[static_cast<std::size_t>(o.tier)];
        if (static_cast<std::size_t>(o.node) < st->node_slots.size())
            ++srv_.counters.by_node[st->node_slots[o.node]];
        std::string extra = "Location: ";
        extra += o.location;
        extra += "\r\nCache-Control: private, max-age=";
        extra += std::to_string(o.ttl);
        extra += "\r\n";
        respond(o.status, extra, o.why + "\n", head, version, keep);
        send(keep);
    }

    // Every line of a header, in order, as one comma-separated list (a proxy
    // may add a line of its own rather than append to the last).
    static std::string all_of(const http::request<http::string_body>& req,
                              const std::string& name) {
        std::string out;
        const auto range = req.equal_range(name);
        for (auto it = range.first; it != range.second; ++it) {
            if (!out.empty()) out += ", ";
            out += sv(it->value());
        }
        return out;
    }

    static const char* reason(unsigned status) {
        switch (status) {
            case 301:
                return "Moved Permanently";
            case 302:
                return "Found";
            case 307:
                return "Temporary Redirect";
            case 308:
                return "Permanent Redirect";
            case 400:
                return "Bad Request";
            case 405:
                return "Method Not Allowed";
            case 413:
                return "Content Too Large";
            case 421:
                return "Misdirected Request";
            case 431:
                return "Request Header Fields Too Large";
            default:
                return "Service Unavailable";
        }
    }

    // The response, written out here: a few fixed lines, no per-field
    // allocation (a redirect is all this server sends).
    void respond(unsigned status, std::string_view extra, std::string_view body, bool head,
                 unsigned version, bool keep_alive) {
        out_.clear();
        out_ += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
        out_ += std::to_string(status);
        out_ += ' ';
        out_ += reason(status);
        out_ += "\r\nServer: signpost-redirectd\r\nContent-Type: ";
        out_ += status < 400 ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
        out_ += "\r\nContent-Length: ";
        out_ += std::to_string(body.size());  // HEAD: the length GET would have
        out_ += "\r\n";
        out_ += extra;
        if (!keep_alive)
            out_ += "Connection: close\r\n";
        else if (version == 10)
            out_ += "Connection: keep-alive\r\n";
        out_ += "\r\n";
        if (!head) out_ += body;
    }

    // An error the connection cannot continue after (its framing is lost).
    void error(unsigned status, const std::string& why, unsigned version = 11, bool head = false) {
        respond(status, "", why + "\n", head, version, false);
        send(false);
    }

    void send(bool keep_alive) {
        lowest().expires_after(std::chrono::milliseconds(srv_.config.idle_timeout_ms));
        net::async_write(
            stream_, net::buffer(out_),
            [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                if (ec || !keep_alive) return self->close();
                self->wait_request();
            });
    }

    // TLS: close_notify first (RFC 8446 6.1), bounded by a second; then the socket.
    void close() {
        if constexpr (kTls) {
            if (handshaken_ && !closing_) {
                closing_ = true;
                lowest().expires_after(std::chrono::seconds(1));
                stream_.async_shutdown(
                    [self = shared_from_this()](beast::error_code) { self->close_socket(); });
                return;
            }
        }
        close_socket();
    }

    void close_socket() {
        beast::error_code ec;
        lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
        lowest().socket().close(ec);
    }

    std::shared_ptr<net::ssl::context> tls_;  // outlives stream_ (declared first)
    bool handshaken_ = false, closing_ = false;
    Stream stream_;
    beast::flat_buffer buffer_;
    std::optional<http::request_parser<http::string_body>> parser_;
    std::string out_;  // the response being written
    Server::Impl& srv_;
    common::IpAddress peer_;
    dnsd::HealthFor health_;
};

}  // namespace

void Server::Impl::accept(std::size_t i) {
    tcp::acceptor& a = *acceptors[i];
    a.async_accept(net::make_strand(ioc), [this, i](beast::error_code ec, tcp::socket s) {
        if (ec == net::error::operation_aborted) return;
        if (ec) {
            // Out of file descriptors (or buffers): the socket stays readable,
            // so accepting again at once would spin. Say so (at most once a
            // minute) and try again shortly.
            const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::steady_clock::now().time_since_epoch())
                                 .count();
            if (now - last_accept_error_log.exchange(now) >= 60)
                SP_LOG_WARN("accept: %s (connections open: %lld); retrying every 100 ms",
                            ec.message().c_str(), static_cast<long long>(counters.open.load()));
            retry_timers[i]->expires_after(std::chrono::milliseconds(100));
            retry_timers[i]->async_wait([this, i](beast::error_code e) {
                if (!e) accept(i);
            });
            return;
        }
        {
            beast::error_code e2;
            const auto ep = s.remote_endpoint(e2);
            const common::IpAddress ip = e2 ? common::IpAddress{} : to_ip(ep.address());
            bool ok = true;
            {
                std::lock_guard lock(clients_mu);
                if (static_cast<std::uint64_t>(counters.open.load()) >= config.max_connections) {
                    ++counters.refused_total;
                    ok = false;
                } else if (per_client[ip] >= config.max_per_client &&
                           !std::any_of(config.trusted_proxies.begin(),
                                        config.trusted_proxies.end(),
                                        [&](const common::Prefix& p) { return p.contains(ip); })) {
                    // (A trusted proxy carries many clients: it is not held to the cap.)
                    ++counters.refused_per_client;
                    ok = false;
                } else {
                    ++per_client[ip];
                    ++counters.open;
                }
                if (!ok && per_client[ip] == 0) per_client.erase(ip);
            }
            if (ok) {
                ++counters.accepted;
                s.set_option(tcp::no_delay(true), e2);
                if (acceptor_tls[i]) {
                    std::shared_ptr<net::ssl::context> ctx;
                    {
                        std::lock_guard lock(tls_mu);
                        ctx = tls;
                    }
                    std::make_shared<Session<TlsStream>>(std::move(s), std::move(ctx), *this, ip)
                        ->run();
                } else {
                    std::make_shared<Session<beast::tcp_stream>>(std::move(s), *this, ip)->run();
                }
            } else {
                s.close(e2);
            }
        }
        accept(i);
    });
}

Server::Server(const HttpConfig& startup, common::Snapshot<RedirectState>& state,
               common::Snapshot<dnsd::HealthState>& health, Counters& counters)
    : impl_(std::make_unique<Impl>(startup, state, health, counters)) {}

Server::~Server() {
    stop();
}

bool Server::bind(std::string& error) {
    std::vector<std::pair<common::HostPort, bool>> all;
    for (const auto& l : impl_->config.listen) all.emplace_back(l, false);
    for (const auto& l : impl_->config.tls_listen) all.emplace_back(l, true);
    for (const auto& [l, tls] : all) {
        beast::error_code ec;
        const auto addr = net::ip::make_address(l.address.to_string(), ec);
        auto a = std::make_unique<tcp::acceptor>(impl_->ioc);
        const tcp::endpoint ep(addr, l.port);
        if (!ec) a->open(ep.protocol(), ec);
        if (!ec) a->set_option(net::socket_base::reuse_address(true), ec);
        if (!ec && addr.is_v6()) a->set_option(net::ip::v6_only(true), ec);
        if (!ec) a->bind(ep, ec);
        if (!ec) a->listen(4096, ec);
        if (ec) {
            error = "listen on " + l.address.to_string() + " port " + std::to_string(l.port) +
                    ": " + ec.message();
            return false;
        }
        SP_LOG_INFO("listening on %s port %u (%s)", l.address.to_string().c_str(),
                    static_cast<unsigned>(a->local_endpoint().port()), tls ? "HTTPS" : "HTTP");
        impl_->acceptors.push_back(std::move(a));
        impl_->acceptor_tls.push_back(tls);
        impl_->retry_timers.push_back(std::make_unique<net::steady_timer>(impl_->ioc));
    }
    return true;
}

namespace {

std::shared_ptr<net::ssl::context> make_tls_context(const HttpConfig& c, std::string& error) {
    auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                     net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    beast::error_code ec;
    ctx->use_certificate_chain_file(c.tls_certificate, ec);
    if (ec) {
        error = c.path + ": [http] tls_certificate " + c.tls_certificate + ": " + ec.message();
        return nullptr;
    }
    ctx->use_private_key_file(c.tls_key, net::ssl::context::pem, ec);
    if (ec) {
        error = c.path + ": [http] tls_key " + c.tls_key + ": " + ec.message();
        return nullptr;
    }
    if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
        error = c.path + ": [http] tls_key " + c.tls_key + " does not match the certificate " +
                c.tls_certificate;
        return nullptr;
    }
    return ctx;
}

}  // namespace

bool check_tls(const HttpConfig& c, std::string& error) {
    return c.tls_listen.empty() || make_tls_context(c, error) != nullptr;
}

bool Server::load_tls(const HttpConfig& c, std::string& error) {
    if (c.tls_listen.empty()) return true;
    auto ctx = make_tls_context(c, error);
    if (!ctx) return false;
    std::lock_guard lock(impl_->tls_mu);
    impl_->tls = std::move(ctx);
    return true;
}

void Server::start(unsigned threads) {
    for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) impl_->accept(i);
    for (unsigned i = 0; i < threads; ++i)
        impl_->threads.emplace_back([this] {
            for (;;) {
                try {
                    impl_->ioc.run();
                    return;
                } catch (const std::exception& e) {
                    // One request's failure (an allocation, say) must not end
                    // every connection's service.
                    SP_LOG_ERROR("a request handler failed: %s", e.what());
                }
            }
        });
}

void Server::stop() {
    if (!impl_ || impl_->threads.empty()) return;
    impl_->ioc.stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
}

}  // namespace signpost::redirectd
