#include "dnsd/health/checker.hpp"

#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <random>
#include <unordered_map>

#include "common/log.hpp"

namespace signpost::dnsd {
inline namespace health {

namespace {
using Clock = std::chrono::steady_clock;
// A check keeps at most this much of a response body: enough for any health
// page's marker, and a bound on what a misbehaving node can make us hold.
constexpr std::size_t kMaxBody = 64 * 1024;

std::int64_t ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
}

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// How often a running drain ramp is republished, and the most that status
// details (latency, counters) may lag behind.
constexpr std::int64_t kRampTickMs = 250;
constexpr std::int64_t kInfoLagMs = 200;

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* body = static_cast<std::string*>(user);
    const std::size_t len = size * n;
    if (body->size() < kMaxBody) body->append(data, std::min(len, kMaxBody - body->size()));
    return len;
}
}  // namespace

struct HealthChecker::Target {
    std::size_t index = 0;  // in targets_
    std::uint32_t node = 0;
    CheckConfig cfg;
    TargetHealth h;
    std::int64_t next_ms = 0;
    CURL* easy = nullptr;
    curl_slist* resolve = nullptr;
    std::string body;
    std::string url;
};

HealthChecker::HealthChecker(NodeSource nodes, common::Snapshot<HealthState>& out)
    : nodes_(std::move(nodes)), out_(out) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi_ = curl_multi_init();
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_fd_;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    // Event-driven libcurl: it tells us which sockets to watch and when its
    // next timeout is; we wait with epoll, so each event costs O(1) however
    // many checks are in flight (poll() over 1,000 sockets per wake-up cost
    // half a core at 1,000 nodes).
    auto* m = static_cast<CURLM*>(multi_);
    curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, &HealthChecker::on_socket);
    curl_multi_setopt(m, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, &HealthChecker::on_timer);
    curl_multi_setopt(m, CURLMOPT_TIMERDATA, this);
}

int HealthChecker::on_socket(void*, int fd, int what, void* self, void*) {
    auto* h = static_cast<HealthChecker*>(self);
    if (what == CURL_POLL_REMOVE) {
        ::epoll_ctl(h->epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        return 0;
    }
    epoll_event ev{};
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (::epoll_ctl(h->epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
        ::epoll_ctl(h->epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

int HealthChecker::on_timer(void*, long timeout_ms, void* self) {
    auto* h = static_cast<HealthChecker*>(self);
    h->curl_timer_ms_ = timeout_ms < 0 ? -1 : ms_now() + timeout_ms;
    return 0;
}

HealthChecker::~HealthChecker() {
    stop();
    for (auto& t : targets_)
        if (t->easy) {
            curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy);
            curl_easy_cleanup(t->easy);
            curl_slist_free_all(t->resolve);
        }
    curl_multi_cleanup(static_cast<CURLM*>(multi_));
    ::close(epoll_fd_);
    ::close(wake_fd_);
}

void HealthChecker::read_state_file(const EdgeSet& edges) {
    const auto& hs = edges.health;
    if (hs.state_file.empty()) return;
    std::string text, error;
    std::vector<std::string> warnings;
    state_file_id_ = common::FileWatcher::identify(hs.state_file);
    if (!std::filesystem::exists(hs.state_file)) {
        SP_LOG_INFO("admin: no state file %s yet: no overrides", hs.state_file.c_str());
        std::lock_guard lock(admin_mu_);
        admin_.clear();
        return;
    }
    if (!read_small_file(hs.state_file, text, error)) {
        SP_LOG_ERROR("admin: cannot read the state file, keeping the overrides as they are: %s",
                     error.c_str());
        return;
    }
    AdminOverrides next = parse_admin_state(text, hs.state_file, warnings);
    for (const auto& w : warnings) SP_LOG_WARN("admin: %s", w.c_str());
    for (const auto& [name, o] : next) {
        const std::string& n = name;  // (clang 14 cannot capture bindings)
        if (!edges.node_index.count(n))
            SP_LOG_WARN("admin: %s names node %s, which is not configured; kept for when it is",
                        hs.state_file.c_str(), n.c_str());
        else
            SP_LOG_INFO("admin: node %s is %s (from %s)", n.c_str(), admin_mode_name(o.mode),
                        hs.state_file.c_str());
    }
    std::lock_guard lock(admin_mu_);
    admin_ = std::move(next);
    ++admin_generation_;
}

void HealthChecker::check_state_file(std::int64_t now) {
    if (!follow_state_file_ || edges_->health.state_file.empty() || now < state_file_next_ms_)
        return;
    state_file_next_ms_ = now + 1000;
    if (common::FileWatcher::identify(edges_->health.state_file) == state_file_id_) return;
    read_state_file(*edges_);
    admin_changed_ = true;
    dirty_view_ = true;
}

void HealthChecker::start() {
    started_ms_ = ms_now();
    const auto edges = nodes_();
    const auto& hs = edges->health;
    read_state_file(*edges);
    rebuild(edges);
    std::size_t checked = 0;
    for (const auto& t : targets_) checked += t->cfg.type != CheckConfig::Type::kNone;
    if (checked == 0) {
        warm_ = true;
        SP_LOG_INFO("health: no node has a health check: admin state alone decides");
    } else if (hs.warmup == HealthSettings::Warmup::kWait) {
        SP_LOG_INFO(
            "health: warm-up policy wait: every admin-up node counts as up until %zu "
            "checked address(es) have a first result or one timeout passes",
            checked);
    } else {
        warm_ = true;
        SP_LOG_INFO(
            "health: warm-up policy %s: health is used at once, unchecked addresses "
            "count as %s",
            warmup_name(hs.warmup), warmup_name(hs.warmup));
    }
    const auto now = ms_now();
    check_external(now);
    publish(now);
    thread_ = std::thread([this] { run(); });
}

void HealthChecker::notify() {
    std::uint64_t one = 1;
    ssize_t w = ::write(wake_fd_, &one, sizeof one);
    (void)w;
}

AdminResult HealthChecker::set_admin(const std::string& node, AdminMode mode,
                                     std::optional<std::uint32_t> drain_s) {
    AdminResult r;
    const auto edges = nodes_();
    const auto& e = *edges;
    if (!e.node_index.count(node)) {
        std::string known;
        for (const auto& n : e.nodes) known += (known.empty() ? "" : ", ") + n.name;
        r.error = "no node named \"" + node + "\" (configured: " + known + ")";
        return r;
    }
    std::lock_guard lock(admin_mu_);
    AdminOverrides next = admin_;
    AdminOverride o{mode, unix_ms(), 0};
    if (mode == AdminMode::kDrain) {
        o.drain_s = drain_s.value_or(e.health.drain_s);
        // Draining again without a new length keeps the ramp that is running.
        auto it = admin_.find(node);
        if (!drain_s && it != admin_.end() && it->second.mode == AdminMode::kDrain) o = it->second;
    }
    if (mode == AdminMode::kAuto)
        next.erase(node);
    else
        next[node] = o;
    const std::string& path = e.health.state_file;
    if (!path.empty()) {
        std::string error;
        if (!write_file_atomically(path, format_admin_state(next), error)) {
            r.error = "not applied: cannot write the state file: " + error;
            SP_LOG_ERROR("admin: node %s %s refused: %s", node.c_str(), admin_mode_name(mode),
                         r.error.c_str());
            return r;
        }
        r.persisted = true;
    }
    admin_ = std::move(next);
    r.generation = ++admin_generation_;
    if (mode == AdminMode::kDrain)
        SP_LOG_INFO("admin: node %s drains over %u s%s", node.c_str(), o.drain_s,
                    r.persisted ? "" : " (not persisted: no [health] state_file)");
    else
        SP_LOG_INFO("admin: node %s set to %s%s", node.c_str(), admin_mode_name(mode),
                    r.persisted ? "" : " (not persisted: no [health] state_file)");
    r.ok = true;
    r.applied = o;
    admin_changed_ = true;
    notify();
    return r;
}

void HealthChecker::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    notify();
    thread_.join();
}

void HealthChecker::rebuild(const std::shared_ptr<const EdgeSet>& edges) {
    // Keep the state of targets that are still there (same node, same
    // address), in flight or not: a reload must not make a down node "new".
    std::unordered_map<std::string, Target*> old;
    for (auto& t : targets_) old.emplace(t->h.node + " " + t->h.address.to_string(), t.get());
    std::vector<std::unique_ptr<Target>> next;
    std::mt19937 rng(static_cast<unsigned>(ms_now()));
    const std::int64_t now = ms_now();
    for (std::uint32_t i = 0; i < edges->nodes.size(); ++i) {
        const auto& n = edges->nodes[i];
        for (const auto* addrs : {&n.v4, &n.v6}) {
            for (const auto& a : *addrs) {
                auto t = std::make_unique<Target>();
                t->node = i;
                t->cfg = n.check;
                t->h.node = n.name;
                t->h.address = a;
                // First checks spread over a quarter interval, not all at once.
                t->next_ms =
                    now + (n.check.interval_ms ? rng() % (n.check.interval_ms / 4 + 1) : 0);
                auto it = old.find(n.name + " " + a.to_string());
                if (it != old.end()) {
                    t->h = it->second->h;
                    // A check cancelled below runs again at once.
                    t->next_ms = it->second->easy ? now : it->second->next_ms;
                }
                next.push_back(std::move(t));
            }
        }
    }
    // Checks in flight for the old set are dropped.
    for (auto& t : targets_)
        if (t->easy) {
            curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy);
            curl_easy_cleanup(t->easy);
            curl_slist_free_all(t->resolve);
            t->easy = nullptr;
        }
    targets_ = std::move(next);
    edges_ = edges;
    // The launch schedule, and what warm-up waits for.
    due_ = {};
    pending_first_ = 0;
    std::uint32_t longest = 0;
    for (std::size_t k = 0; k < targets_.size(); ++k) {
        auto& t = *targets_[k];
        t.index = k;
        if (t.cfg.type == CheckConfig::Type::kNone) continue;
        due_.emplace(t.next_ms, k);
        pending_first_ += !t.h.checked;
        longest = std::max(longest, t.cfg.timeout_ms + t.cfg.interval_ms / 4);
    }
    // (+100 ms: a check that fails exactly at its timeout still counts.)
    warm_deadline_ms_ = started_ms_ + longest + 100;
    dirty_view_ = true;
}

void HealthChecker::launch(Target& t) {
    const auto& c = t.cfg;
    const bool v6 = !t.h.address.is_v4();
    const std::string lit = v6 ? "[" + t.h.address.to_string() + "]" : t.h.address.to_string();
    const unsigned port = c.port ? c.port : (c.type == CheckConfig::Type::kHttps ? 443 : 80);
    CURL* e = curl_easy_init();
    t.body.clear();
    if (c.type == CheckConfig::Type::kTcp) {
        t.url = "http://" + lit + ":" + std::to_string(port) + "/";
        curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    } else {
        const bool https = c.type == CheckConfig::Type::kHttps;
        const std::string host = c.host.empty() ? lit : c.host;
        t.url = std::string(https ? "https://" : "http://") + host + ":" + std::to_string(port) +
                c.path;
        if (!c.host.empty()) {
            // Pin the node's address under the configured name (Host and SNI stay right).
            t.resolve = curl_slist_append(
                nullptr, (c.host + ":" + std::to_string(port) + ":" + lit).c_str());
            curl_easy_setopt(e, CURLOPT_RESOLVE, t.resolve);
        }
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &t.body);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, c.tls_verify ? 1L : 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, c.tls_verify ? 2L : 0L);
        curl_easy_setopt(e, CURLOPT_USERAGENT, "signpost-dnsd-health/1");
    }
    curl_easy_setopt(e, CURLOPT_URL, t.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    // Every check is a whole new connection: a node that stops accepting must
    // fail its check, not ride on a kept-alive socket from the last one.
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(c.connect_timeout_ms));
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(c.timeout_ms));
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    t.easy = e;
    curl_multi_add_handle(static_cast<CURLM*>(multi_), e);
}

void HealthChecker::finish(Target& t, int code) {
    const auto& c = t.cfg;
    bool ok = code == CURLE_OK;
    std::string reason;
    curl_off_t total_us = 0;
    curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &total_us);
    if (!ok) {
        reason = code == CURLE_OPERATION_TIMEDOUT
                     ? "timeout after " + std::to_string(total_us / 1000) + " ms"
                     : curl_easy_strerror(static_cast<CURLcode>(code));
    } else if (c.type != CheckConfig::Type::kTcp) {
        long status = 0;
        curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &status);
        if (std::find(c.expect.begin(), c.expect.end(), status) == c.expect.end()) {
            ok = false;
            reason = "HTTP " + std::to_string(status);
        } else if (!c.body.empty() && t.body.find(c.body) == std::string::npos) {
            ok = false;
            reason = "body lacks \"" + c.body + "\"";
        }
    }
    curl_multi_remove_handle(static_cast<CURLM*>(multi_), t.easy);
    curl_easy_cleanup(t.easy);
    curl_slist_free_all(t.resolve);
    t.easy = nullptr;
    t.resolve = nullptr;
    t.body.clear();
    t.body.shrink_to_fit();

    auto& h = t.h;
    const bool was_up = h.up;
    const bool was_checked = h.checked;
    h.latency_ms = static_cast<double>(total_us) / 1000.0;
    if (ok) {
        ++h.successes;
        h.failures = 0;
    } else {
        ++h.failures;
        h.successes = 0;
        h.reason = reason;
    }
    if (!h.checked) {
        h.up = ok;  // the first result sets the state (warm-up), then hysteresis
        h.checked = true;
    } else if (!h.up && h.successes >= c.rise) {
        h.up = true;
    } else if (h.up && h.failures >= c.fall) {
        h.up = false;
    }
    if (h.up != was_up || h.since == 0) {
        h.since = static_cast<std::int64_t>(std::time(nullptr));
        if (h.up != was_up)
            SP_LOG_INFO(
                "health: node %s %s is %s (%s)", h.node.c_str(), h.address.to_string().c_str(),
                h.up ? "up" : "down",
                h.up ? (std::to_string(h.successes) + " consecutive successes").c_str()
                     : (h.reason + "; " + std::to_string(h.failures) + " consecutive failures")
                           .c_str());
    }
    dirty_info_ = true;
    if (h.up != was_up || !was_checked) dirty_view_ = true;
    if (!was_checked && pending_first_ > 0) --pending_first_;
    // Interval with +-10% jitter, so checks of many nodes do not synchronise.
    static thread_local std::mt19937 rng(12345);
    const std::int64_t jitter = c.interval_ms / 10;
    t.next_ms = ms_now() + c.interval_ms +
                (jitter ? static_cast<std::int64_t>(rng() % (2 * jitter + 1)) - jitter : 0);
}

bool HealthChecker::target_ok(const Target& t) const {
    if (t.cfg.type == CheckConfig::Type::kNone) return true;
    const auto policy = edges_->health.warmup;
    if (!t.h.checked) return policy != HealthSettings::Warmup::kDown;
    if (!warm_ && policy == HealthSettings::Warmup::kWait) return true;
    return t.h.up;
}

void HealthChecker::publish(std::int64_t now) {
    auto s = std::make_shared<HealthState>();
    const auto& e = *edges_;
    const std::size_t n = e.nodes.size();
    s->edges = edges_;
    s->warm = warm_;
    s->external_status = external_status_;
    s->admin.resize(n);
    {
        std::lock_guard lock(admin_mu_);
        s->admin_generation = admin_generation_;
        for (std::size_t i = 0; i < n; ++i) {
            auto it = admin_.find(e.nodes[i].name);
            if (it != admin_.end()) s->admin[i].override = it->second;
        }
    }
    // External marks: the whole node, or one of its addresses.
    std::multimap<std::string_view, const ExternalMark*> marks;
    if (!external_stale_)
        for (const auto& m : external_) {
            auto it = e.node_index.find(m.node);
            if (it == e.node_index.end()) continue;
            if (!m.address) s->admin[it->second].external = m.reason;
            marks.emplace(m.node, &m);
        }
    std::vector<char> h4(n, 0), h6(n, 0);
    for (const auto& t : targets_) {
        TargetHealth th = t->h;
        auto [lo, hi] = marks.equal_range(th.node);
        for (auto it = lo; it != hi; ++it)
            if (it->second->address && *it->second->address == th.address)
                th.external = it->second->reason;
        if (th.external.empty() && target_ok(*t)) (th.address.is_v4() ? h4 : h6)[t->node] = 1;
        s->targets.push_back(std::move(th));
    }
    auto& v = s->view;
    v.up_v4.assign(n, false);
    v.up_v6.assign(n, false);
    const std::int64_t wall = unix_ms();
    draining_ = false;
    for (std::size_t i = 0; i < n; ++i) {
        auto& a = s->admin[i];
        const auto mode = a.override.mode;
        bool up4 = e.nodes[i].admin_up && a.external.empty() && h4[i];
        bool up6 = e.nodes[i].admin_up && a.external.empty() && h6[i];
        if (mode == AdminMode::kUp) up4 = up6 = true;
        if (mode == AdminMode::kDown) up4 = up6 = false;
        v.up_v4[i] = up4 && !e.nodes[i].v4.empty();
        v.up_v6[i] = up6 && !e.nodes[i].v6.empty();
        if (mode == AdminMode::kDrain) {
            a.keep = drain_keep(a.override, wall);
            if (v.keep.empty()) v.keep.assign(n, 1.0);
            v.keep[i] = a.keep;
            draining_ = draining_ || a.keep > 0.0;
        }
    }
    out_.publish(std::move(s));
    dirty_view_ = dirty_info_ = false;
    last_publish_ms_ = now;
}

void HealthChecker::check_external(std::int64_t now) {
    const std::string& path = edges_->health.external_file;
    if (path != external_path_) {  // configured, changed or removed by a reload
        external_path_ = path;
        external_id_ = {};
        external_.clear();
        external_status_ = path.empty() ? "" : "not read yet";
        external_next_ms_ = 0;
        external_stale_ = false;
        dirty_view_ = true;
    }
    if (path.empty() || now < external_next_ms_) return;
    external_next_ms_ = now + 1000;
    const auto id = common::FileWatcher::identify(path);
    if (!(id == external_id_)) {
        external_id_ = id;
        std::string text, error;
        std::vector<ExternalMark> marks;
        if (id.size < 0) {
            if (!external_.empty() || external_status_ != "missing")
                SP_LOG_WARN("external: %s is missing: no external marks", path.c_str());
            external_.clear();
            external_status_ = "missing";
        } else if (!read_small_file(path, text, error) ||
                   !parse_external(text, path, marks, error)) {
            SP_LOG_ERROR("external: %s refused, keeping the %zu mark(s) read before: %s",
                         path.c_str(), external_.size(), error.c_str());
            external_status_ = "refused: " + error;
        } else {
            std::size_t known = 0;
            for (const auto& m : marks) {
                auto it = edges_->node_index.find(m.node);
                if (it == edges_->node_index.end()) {
                    SP_LOG_WARN("external: %s:%d: no node named %s; line ignored", path.c_str(),
                                m.line, m.node.c_str());
                    continue;
                }
                const auto& node = edges_->nodes[it->second];
                if (m.address &&
                    std::find(node.v4.begin(), node.v4.end(), *m.address) == node.v4.end() &&
                    std::find(node.v6.begin(), node.v6.end(), *m.address) == node.v6.end()) {
                    SP_LOG_WARN("external: %s:%d: %s is not an address of node %s; line ignored",
                                path.c_str(), m.line, m.address->to_string().c_str(),
                                m.node.c_str());
                    continue;
                }
                ++known;
            }
            SP_LOG_INFO("external: %s: %zu node(s) or address(es) marked down", path.c_str(),
                        known);
            external_ = std::move(marks);
            external_status_ = std::to_string(known) + " mark(s)";
        }
        dirty_view_ = true;
    }
    if (edges_->health.external_max_age_s && id.size >= 0) {
        const std::int64_t age_s = (unix_ms() - id.mtime_ns / 1000000) / 1000;
        const bool stale = age_s > static_cast<std::int64_t>(edges_->health.external_max_age_s);
        if (stale != external_stale_) {
            external_stale_ = stale;
            dirty_view_ = true;
            if (stale)
                SP_LOG_WARN(
                    "external: %s is %lld s old (external_max_age_s %u): its marks are "
                    "ignored until it is rewritten",
                    path.c_str(), static_cast<long long>(age_s), edges_->health.external_max_age_s);
            else
                SP_LOG_INFO("external: %s is fresh again: its marks apply", path.c_str());
        }
        if (stale) external_status_ = "stale (" + std::to_string(age_s) + " s old): ignored";
    }
}

void HealthChecker::run() {
    auto* multi = static_cast<CURLM*>(multi_);
    int running = 0;
    auto drain_done = [&] {
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
            if (m->msg != CURLMSG_DONE) continue;
            Target* t = nullptr;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
            if (!t) continue;
            finish(*t, m->data.result);
            due_.emplace(t->next_ms, t->index);
        }
    };
    while (!stopping_) {
        if (auto edges = nodes_(); edges != edges_) rebuild(edges);
        // Launch what is due.
        std::int64_t now = ms_now();
        while (!due_.empty() && due_.top().first <= now) {
            const auto k = due_.top().second;
            due_.pop();
            if (k < targets_.size() && !targets_[k]->easy) launch(*targets_[k]);
        }
        // Wait for sockets, curl's timer, the next launch or a wake-up.
        std::int64_t next = now + 1000;
        if (!due_.empty()) next = std::min(next, due_.top().first);
        if (curl_timer_ms_ >= 0) next = std::min(next, curl_timer_ms_);
        if (!warm_) next = std::min(next, warm_deadline_ms_);
        if (dirty_view_) next = now;
        if (dirty_info_) next = std::min(next, last_publish_ms_ + kInfoLagMs);
        if (draining_) next = std::min(next, last_publish_ms_ + kRampTickMs);
        if (!external_path_.empty()) next = std::min(next, external_next_ms_);
        epoll_event events[256];
        const int wait = static_cast<int>(std::clamp<std::int64_t>(next - now, 0, 1000));
        const int n = ::epoll_wait(epoll_fd_, events, 256, wait);
        for (int i = 0; i < n; ++i) {
            const int fd = events[i].data.fd;
            if (fd == wake_fd_) {
                std::uint64_t v;
                ssize_t r = ::read(wake_fd_, &v, sizeof v);
                (void)r;
                continue;
            }
            int flags = 0;
            if (events[i].events & (EPOLLIN | EPOLLHUP)) flags |= CURL_CSELECT_IN;
            if (events[i].events & EPOLLOUT) flags |= CURL_CSELECT_OUT;
            if (events[i].events & EPOLLERR) flags |= CURL_CSELECT_ERR;
            curl_multi_socket_action(multi, fd, flags, &running);
        }
        if (curl_timer_ms_ >= 0 && ms_now() >= curl_timer_ms_) {
            curl_timer_ms_ = -1;
            curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        drain_done();

        now = ms_now();
        if (!warm_ && (pending_first_ == 0 || now > warm_deadline_ms_)) {
            // Warm-up: health is used once every target has a result, or one
            // (longest) timeout after start, whichever comes first.
            warm_ = true;
            dirty_view_ = true;
            std::size_t up = 0, total = 0;
            for (auto& t : targets_)
                if (t->cfg.type != CheckConfig::Type::kNone) {
                    ++total;
                    up += t->h.up && t->h.checked;
                }
            SP_LOG_INFO(
                "health: warm-up %s: %zu of %zu checked addresses up; redirects now use health",
                pending_first_ == 0 ? "complete" : "timed out", up, total);
        }
        check_state_file(now);
        if (admin_changed_.exchange(false)) dirty_view_ = true;
        check_external(now);
        if (draining_ && now - last_publish_ms_ >= kRampTickMs) dirty_view_ = true;
        if (dirty_view_ || (dirty_info_ && now - last_publish_ms_ >= kInfoLagMs)) publish(now);
    }
}

}  // namespace health
}  // namespace signpost::dnsd
