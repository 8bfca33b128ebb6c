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

namespace {

using Executor = net::io_context::executor_type;
using Socket = net::basic_stream_socket<tcp, Executor>;
using Acceptor = net::basic_socket_acceptor<tcp, Executor>;
using Clock = std::chrono::steady_clock;
using Timer = net::basic_waitable_timer<Clock, net::wait_traits<Clock>, Executor>;
using TlsStream = net::ssl::stream<Socket>;

}  // namespace

// One thread's event loop and what its requests are answered from. A
// connection lives on one worker from accept to close, so nothing of it is
// shared between threads (no strand); the acceptors, on worker 0, hand each
// new connection to the next worker in turn.
struct Worker {
    explicit Worker(Server::Impl& s) : srv(s), ioc(1), tick(ioc.get_executor()) {}
    Server::Impl& srv;
    net::io_context ioc;
    // The state and health last loaded, and the versions they were loaded
    // at: a request reads two counters and loads again only after a publish.
    std::uint64_t state_version = ~std::uint64_t{0}, health_version = ~std::uint64_t{0};
    std::shared_ptr<const RedirectState> state;
    std::shared_ptr<const dnsd::HealthState> health_source;
    dnsd::HealthFor health_for;
    const dnsd::HealthState* health = nullptr;
    std::uint64_t rr = 0;  // the fallback's weighted round robin
    Timer tick;            // refreshes an idle worker, so no old state outlives a second
    void refresh();
    void start_tick() {
        tick.expires_after(std::chrono::seconds(1));
        tick.async_wait([this](const beast::error_code& ec) {
            if (ec) return;
            start_tick();  // first: a refresh that throws must not end the chain
            refresh();
        });
    }
};

struct Server::Impl {
    Impl(const HttpConfig& c, common::Snapshot<RedirectState>& s,
         common::Snapshot<dnsd::HealthState>& h, Counters& k)
        : config(c), state(s), health(h), counters(k) {
        workers.push_back(std::make_unique<Worker>(*this));  // the acceptors' (bind)
    }

    HttpConfig config;  // the startup settings (sockets, limits)
    common::Snapshot<RedirectState>& state;
    common::Snapshot<dnsd::HealthState>& health;
    Counters& counters;
    // Before the workers: sessions still queued in a worker's io_context
    // when it is destroyed release their client's count here.
    std::mutex clients_mu;
    std::map<common::IpAddress, unsigned> per_client;
    std::vector<std::unique_ptr<Worker>> workers;
    std::size_t next_worker = 0;  // on worker 0's thread only
    std::vector<std::unique_ptr<Acceptor>> acceptors;
    std::vector<bool> acceptor_tls;  // per acceptor: a tls_listen address
    std::mutex tls_mu;
    std::shared_ptr<net::ssl::context> tls;            // under tls_mu; each session keeps its own
    std::vector<std::unique_ptr<Timer>> retry_timers;  // one per acceptor
    std::vector<std::thread> threads;
    std::atomic<std::int64_t> last_accept_error_log{0};

    void accept(std::size_t i);
    void release(const common::IpAddress& ip) {
        std::lock_guard lock(clients_mu);
        auto it = per_client.find(ip);
        if (it != per_client.end() && --it->second == 0) per_client.erase(it);
    }
};

void Worker::refresh() {
    const std::uint64_t sv = srv.state.version(), hv = srv.health.version();
    if (sv == state_version && hv == health_version) return;
    if (sv != state_version) {
        state_version = sv;
        state = srv.state.load();
    }
    if (hv != health_version) {
        health_version = hv;
        health_source = srv.health.load();
    }
    health = health_for.get(health_source, state->edges);
}

namespace {

common::IpAddress to_ip(const net::ip::address& a) {
    if (a.is_v4()) return common::IpAddress::v4(a.to_v4().to_uint());
    const auto b = a.to_v6().to_bytes();
    return common::IpAddress::from_bytes(common::Family::kV6, b.data()).unmapped();
}

// What a request says that its answer needs, kept by the connection from
// request to request (the strings keep their capacity: no allocation per
// request once a connection has seen one).
struct Request {
    http::verb method = http::verb::unknown;
    unsigned version = 11;
    unsigned hosts = 0;  // Host lines
    std::string target, host, client_header_name, client_header;
};

// Beast's HTTP/1.1 parser (request line, fields, framing, limits) without a
// message to fill: the fields an answer needs are copied out as they are
// parsed and the rest dropped, and a body (which a redirect does not read)
// is counted against body_limit and discarded.
class RequestParser final : public http::basic_parser<true> {
  public:
    explicit RequestParser(Request& r) : r_(r) {}

  private:
    void on_request_impl(http::verb method, beast::string_view, beast::string_view target,
                         int version, beast::error_code&) override {
        r_.method = method;
        r_.target.assign(target.data(), target.size());
        r_.version = static_cast<unsigned>(version);
    }
    void on_response_impl(int, beast::string_view, int, beast::error_code&) override {}
    void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                       beast::error_code&) override {
        if (name == http::field::host && r_.hosts++ == 0)
            r_.host.assign(value.data(), value.size());
        // Every line of the client header, in order, as one comma-separated
        // list (a proxy may add a line of its own rather than append to the last).
        if (beast::iequals(name_string, r_.client_header_name)) {
            if (!r_.client_header.empty()) r_.client_header += ", ";
            r_.client_header.append(value.data(), value.size());
        }
    }
    void on_header_impl(beast::error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
    std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
        return body.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body,
                                   beast::error_code&) override {
        return body.size();
    }
    void on_finish_impl(beast::error_code&) override {}

    Request& r_;
};

// One connection: Stream is Socket (HTTP) or TlsStream (HTTPS).
//
// Deadlines: one timer per connection, set lazily as nginx sets its own.
// Each phase (handshake, waiting for a request, the rest of a header, a
// write, TLS close) sets `deadline_`; the timer is re-armed only when the
// new deadline is earlier than the one it waits for. When it fires early it
// waits again for the deadline, so a connection is closed at its deadline
// to the timer's precision, and a request on a kept-alive connection costs
// one clock read instead of a timer queue insert and removal per operation.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
    static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
    using std::enable_shared_from_this<Session<Stream>>::shared_from_this;
    using std::enable_shared_from_this<Session<Stream>>::weak_from_this;
    enum class Phase { kHandshake, kIdle, kHeader, kWrite, kClosing };

  public:
    Session(Socket&& s, Worker& w, common::IpAddress peer) requires(!kTls)
        : stream_(std::move(s)),
          timer_(w.ioc.get_executor()),
          buffer_(w.srv.config.max_header_bytes + 1024),
          w_(w),
          srv_(w.srv),
          peer_(peer) {}
    Session(Socket&& s, std::shared_ptr<net::ssl::context> tls, Worker& w,
            common::IpAddress peer) requires(kTls)
        : tls_(std::move(tls)),
          stream_(std::move(s), *tls_),
          timer_(w.ioc.get_executor()),
          buffer_(w.srv.config.max_header_bytes + 1024),
          w_(w),
          srv_(w.srv),
          peer_(peer) {}
    ~Session() {
        --srv_.counters.open;
        srv_.release(peer_);
    }
    // From the acceptor's thread: everything the session does, its first
    // operation included, runs on its worker's thread.
    void run() {
        net::post(w_.ioc.get_executor(), [self = shared_from_this()] { self->start(); });
    }

  private:
    void start() {
        if constexpr (kTls) {
            // The handshake is the start of the first request: the header
            // deadline holds it (a client that connects and never says hello
            // is closed like one that never finishes its header).
            arm(Phase::kHandshake, srv_.config.header_timeout_ms);
            stream_.async_handshake(net::ssl::stream_base::server,
                                    [self = shared_from_this()](const beast::error_code& ec) {
                                        if (ec || self->expired_) {
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

    Socket& socket() {
        if constexpr (kTls)
            return stream_.next_layer();
        else
            return stream_;
    }

    void arm(Phase p, unsigned ms) {
        phase_ = p;
        deadline_ = Clock::now() + std::chrono::milliseconds(ms);
        if (!waiting_ || deadline_ < armed_) wait_for_deadline();
    }
    void wait_for_deadline() {
        armed_ = deadline_;
        waiting_ = true;
        timer_.expires_at(deadline_);  // (a wait already there ends, aborted: its seq is old)
        timer_.async_wait([w = weak_from_this(), seq = ++wait_seq_](const beast::error_code&) {
            if (auto self = w.lock()) self->on_timer(seq);
        });
    }
    void on_timer(unsigned seq) {
        if (seq != wait_seq_ || closed_) return;
        waiting_ = false;
        if (Clock::now() < deadline_) return wait_for_deadline();  // moved on since
        switch (phase_) {
            case Phase::kIdle:
                ++srv_.counters.idle_closed;
                break;
            case Phase::kHeader:
                ++srv_.counters.header_timeouts;
                break;
            case Phase::kClosing:
                return close_socket();  // no close_notify came back in time
            default:
                break;  // a handshake (counted by its handler) or a write
        }
        // The pending operation ends, aborted, and its handler closes. An
        // operation that had already completed, its handler queued behind
        // this one, is not aborted: every handler checks expired_ first, so
        // the session cannot go on past its deadline without a timer.
        expired_ = true;
        beast::error_code ec;
        socket().cancel(ec);
    }

    // Until the next request's first byte: the idle deadline.
    void wait_request() {
        if (buffer_.size() > 0) return parse();  // pipelined: already here
        arm(Phase::kIdle, srv_.config.idle_timeout_ms);
        read_more();
    }

    void read_more() {
        stream_.async_read_some(
            buffer_.prepare(std::min<std::size_t>(4096, buffer_.max_size() - buffer_.size())),
            [self = shared_from_this()](const beast::error_code& ec, std::size_t n) {
                // The end of the stream, a reset, a deadline, a TLS error: no
                // answer can be carried.
                if (ec || self->expired_) return self->close();
                self->buffer_.commit(n);
                self->parse();
            });
    }

    // What is buffered (usually the whole request) is parsed here and now;
    // only the rest of an incomplete one is read, under the header deadline
    // (from the request's first byte).
    void parse() {
        if (!parser_) {
            w_.refresh();
            req_.hosts = 0;
            req_.method = http::verb::unknown;
            req_.target.clear();
            req_.host.clear();
            req_.client_header.clear();
            req_.client_header_name.assign(w_.state->config->client_header);
            parser_.emplace(req_);
            parser_->header_limit(srv_.config.max_header_bytes);
            parser_->body_limit(64 * 1024);
            parser_->eager(true);
        }
        beast::error_code ec;
        while (buffer_.size() > 0 && !parser_->is_done()) {
            const std::size_t used = parser_->put(buffer_.data(), ec);
            buffer_.consume(used);
            if (ec || used == 0) break;
        }
        if (ec == http::error::need_more) ec = {};
        if (!ec && !parser_->is_done() && buffer_.size() >= buffer_.max_size())
            ec = http::error::buffer_overflow;
        if (ec) return failed(ec);
        if (parser_->is_done()) return handle();
        if (phase_ != Phase::kHeader) arm(Phase::kHeader, srv_.config.header_timeout_ms);
        read_more();
    }

    void failed(const beast::error_code& ec) {
        if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
            ++srv_.counters.header_too_large;
            return error(431, "the request header is larger than this server takes");
        }
        if (ec == http::error::body_limit) {
            ++srv_.counters.bad_request;
            return error(413, "a redirect request has no body");
        }
        ++srv_.counters.bad_request;
        return error(400, "malformed request: " + ec.message());
    }

    void handle() {
        const bool keep = parser_->keep_alive();
        parser_.reset();
        ++srv_.counters.requests;
        const bool head = req_.method == http::verb::head;
        const unsigned version = req_.version;
        if (req_.method != http::verb::get && !head) {
            ++srv_.counters.method_not_allowed;
            respond(405, "Allow: GET, HEAD\r\n", "only GET and HEAD are redirected\n", false,
                    version, keep);
            return send(keep);
        }
        if ((req_.hosts == 0 && version >= 11) || req_.hosts > 1) {
            ++srv_.counters.bad_request;
            return error(400,
                         req_.hosts > 1 ? "more than one Host header (RFC 9112 3.2)"
                                        : "HTTP/1.1 needs a Host header",
                         version, head);
        }
        host_name(req_.host, host_);
        if (req_.hosts != 0 && host_.empty()) {
            ++srv_.counters.bad_request;
            return error(400, "a malformed Host header", version, head);
        }
        w_.refresh();
        const RedirectState& st = *w_.state;
        const HttpConfig& c = *st.config;
        const common::IpAddress client = client_address(
            peer_, req_.client_header, c.trusted_proxies, c.client_header_is_forwarded());
        decide_request(st, w_.health->view, host_, req_.target, client, w_.rr++, outcome_);
        const Outcome& o = outcome_;
        if (o.status == 421) ++srv_.counters.misdirected;
        if (o.status == 400) ++srv_.counters.bad_request;
        if (o.status == 503) ++srv_.counters.unavailable;
        body_.clear();
        if (o.location.empty()) {
            body_ += o.why;
            body_ += '\n';
            respond(o.status, o.status == 503 ? "Retry-After: 5\r\n" : "", body_, head, version,
                    keep);
            return send(keep);
        }
        ++srv_.counters.redirects;
        if (head) ++srv_.counters.head;
        ++srv_.counters.by_tier[static_cast<std::size_t>(o.tier)];
        if (static_cast<std::size_t>(o.node) < st.node_slots.size())
            ++srv_.counters.by_node[st.node_slots[o.node]];
        extra_.assign("Location: ");
        extra_ += o.location;
        extra_ += "\r\nCache-Control: private, max-age=";
        extra_ += std::to_string(o.ttl);
        extra_ += "\r\n";
        append_redirect_body(o.location, body_);
        respond(o.status, extra_, body_, head, version, keep);
        send(keep);
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

    // The response, written out here: a few fixed lines into one buffer
    // the connection keeps (a redirect is all this server sends).
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
        parser_.reset();
        respond(status, "", why + "\n", head, version, false);
        send(false);
    }

    // The write is held to the deadline of the phase that asked for it
    // (the idle one of a request read at once; after a slow header, an
    // idle deadline from now).
    void send(bool keep_alive) {
        if (phase_ == Phase::kHeader || phase_ == Phase::kHandshake)
            arm(Phase::kWrite, srv_.config.idle_timeout_ms);
        else
            phase_ = Phase::kWrite;
        net::async_write(
            stream_, net::buffer(out_),
            [self = shared_from_this(), keep_alive](const beast::error_code& ec, std::size_t) {
                if (ec || !keep_alive || self->expired_) return self->close();
                self->wait_request();
            });
    }

    // TLS: close_notify first (RFC 8446 6.1), bounded by a second; then the socket.
    void close() {
        if constexpr (kTls) {
            if (handshaken_ && !closing_ && !closed_) {
                closing_ = true;
                arm(Phase::kClosing, 1000);
                stream_.async_shutdown([self = shared_from_this()](const beast::error_code&) {
                    self->close_socket();
                });
                return;
            }
        }
        close_socket();
    }

    void close_socket() {
        if (closed_) return;
        closed_ = true;
        beast::error_code ec;
        socket().shutdown(tcp::socket::shutdown_send, ec);
        socket().close(ec);
        timer_.cancel();
    }

    std::shared_ptr<net::ssl::context> tls_;  // outlives stream_ (declared first)
    bool handshaken_ = false, closing_ = false, closed_ = false;
    Stream stream_;
    Timer timer_;
    Phase phase_ = Phase::kIdle;
    Clock::time_point deadline_{}, armed_{};
    bool waiting_ = false;
    bool expired_ = false;  // a deadline passed: the next handler closes
    unsigned wait_seq_ = 0;
    beast::flat_buffer buffer_;
    Request req_;
    std::optional<RequestParser> parser_;
    std::string host_, extra_, body_;
    Outcome outcome_;
    std::string out_;  // the response being written
    Worker& w_;
    Server::Impl& srv_;
    common::IpAddress peer_;
};

}  // namespace

void Server::Impl::accept(std::size_t i) {
    Acceptor& a = *acceptors[i];
    Worker& to = *workers[next_worker++ % workers.size()];
    a.async_accept(to.ioc, [this, i, &to](const beast::error_code& ec, Socket s) {
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
            retry_timers[i]->async_wait([this, i](const beast::error_code& e) {
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
                    std::make_shared<Session<TlsStream>>(std::move(s), std::move(ctx), to, ip)
                        ->run();
                } else {
                    std::make_shared<Session<Socket>>(std::move(s), to, ip)->run();
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
    if (!impl_) return;
    // The acceptors and their retry timers live on worker 0, so they go before
    // it; then worker 0 first, whatever order a vector destroys in: its queue
    // may still hold an accept's socket made for another worker's io_context.
    impl_->acceptors.clear();
    impl_->retry_timers.clear();
    for (auto& w : impl_->workers) w.reset();
}

bool Server::bind(std::string& error) {
    std::vector<std::pair<common::HostPort, bool>> all;
    for (const auto& l : impl_->config.listen) all.emplace_back(l, false);
    for (const auto& l : impl_->config.tls_listen) all.emplace_back(l, true);
    for (const auto& [l, tls] : all) {
        beast::error_code ec;
        const auto addr = net::ip::make_address(l.address.to_string(), ec);
        auto a = std::make_unique<Acceptor>(impl_->workers[0]->ioc);
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
        impl_->retry_timers.push_back(
            std::make_unique<Timer>(impl_->workers[0]->ioc.get_executor()));
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
    threads = std::max(1u, threads);
    while (impl_->workers.size() < threads)
        impl_->workers.push_back(std::make_unique<Worker>(*impl_));
    for (auto& w : impl_->workers) {
        w->refresh();
        w->start_tick();  // (also what keeps a worker without acceptors running)
    }
    for (std::size_t i = 0; i < impl_->acceptors.size(); ++i) impl_->accept(i);
    for (auto& w : impl_->workers)
        impl_->threads.emplace_back([w = w.get()] {
            for (;;) {
                try {
                    w->ioc.run();
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
    for (auto& w : impl_->workers) w->ioc.stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
}

}  // namespace signpost::redirectd
