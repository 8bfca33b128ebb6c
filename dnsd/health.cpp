#include "dnsd/health.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <random>

#include "common/log.hpp"

namespace signpost::dnsd {

namespace {
using Clock = std::chrono::steady_clock;
// A check keeps at most this much of a response body: enough for any health
// page's marker, and a bound on what a misbehaving node can make us hold.
constexpr std::size_t kMaxBody = 64 * 1024;

std::int64_t ms_now() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
    auto* body = static_cast<std::string*>(user);
    const std::size_t len = size * n;
    if (body->size() < kMaxBody) body->append(data, std::min(len, kMaxBody - body->size()));
    return len;
}
}  // namespace

struct HealthChecker::Target {
    std::uint32_t node = 0;
    CheckConfig cfg;
    TargetHealth h;
    std::int64_t next_ms = 0;
    CURL* easy = nullptr;
    curl_slist* resolve = nullptr;
    std::string body;
    std::string url;
};

HealthChecker::HealthChecker(common::Snapshot<ServingState>& state,
                             common::Snapshot<HealthState>& out)
    : state_(state), out_(out) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi_ = curl_multi_init();
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
}

void HealthChecker::start() {
    started_ms_ = ms_now();
    thread_ = std::thread([this] { run(); });
}

void HealthChecker::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    curl_multi_wakeup(static_cast<CURLM*>(multi_));
    thread_.join();
}

void HealthChecker::rebuild(const std::shared_ptr<const ServingState>& s) {
    // Keep the state of targets that are still there (same node, same address).
    std::vector<std::unique_ptr<Target>> next;
    std::mt19937 rng(static_cast<unsigned>(ms_now()));
    for (std::uint32_t i = 0; i < s->edges->nodes.size(); ++i) {
        const auto& n = s->edges->nodes[i];
        for (const auto* addrs : {&n.v4, &n.v6}) {
            for (const auto& a : *addrs) {
                auto t = std::make_unique<Target>();
                t->node = i;
                t->cfg = n.check;
                t->h.node = n.name;
                t->h.address = a;
                // First checks spread over one interval, not all at once.
                t->next_ms =
                    ms_now() + (n.check.interval_ms ? rng() % (n.check.interval_ms / 4 + 1) : 0);
                for (auto& old : targets_)
                    if (old && !old->easy && old->h.node == n.name && old->h.address == a) {
                        t->h = old->h;
                        t->next_ms = old->next_ms;
                    }
                next.push_back(std::move(t));
            }
        }
    }
    // Checks in flight for the old set finish and are dropped.
    for (auto& old : targets_)
        if (old && old->easy) {
            curl_multi_remove_handle(static_cast<CURLM*>(multi_), old->easy);
            curl_easy_cleanup(old->easy);
            curl_slist_free_all(old->resolve);
            old->easy = nullptr;
        }
    targets_ = std::move(next);
    edges_ = s->edges;
    dirty_ = true;
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
            SP_LOG_INFO("health: node %s %s is %s (%s)", h.node.c_str(),
                        h.address.to_string().c_str(), h.up ? "up" : "down",
                        h.up ? (std::to_string(h.successes) + " consecutive successes").c_str()
                             : h.reason.c_str());
    }
    dirty_ = true;
    // Interval with +-10% jitter, so checks of many nodes do not synchronise.
    static thread_local std::mt19937 rng(12345);
    const std::int64_t jitter = c.interval_ms / 10;
    t.next_ms = ms_now() + c.interval_ms +
                (jitter ? static_cast<std::int64_t>(rng() % (2 * jitter + 1)) - jitter : 0);
}

void HealthChecker::publish() {
    auto s = std::make_shared<HealthState>();
    s->edges = edges_.get();
    s->warm = warm_;
    if (warm_) {
        const auto n = edges_->nodes.size();
        s->view.up_v4.assign(n, false);
        s->view.up_v6.assign(n, false);
        for (const auto& t : targets_) {
            const bool up = t->cfg.type == CheckConfig::Type::kNone || t->h.up;
            auto& v = t->h.address.is_v4() ? s->view.up_v4 : s->view.up_v6;
            // A node is up for a family if any of its addresses of that family is.
            if (up) v[t->node] = true;
        }
    }
    for (const auto& t : targets_) s->targets.push_back(t->h);
    out_.publish(std::move(s));
    dirty_ = false;
}

void HealthChecker::run() {
    auto* multi = static_cast<CURLM*>(multi_);
    const ServingState* current = nullptr;
    while (!stopping_) {
        const auto snap = state_.load();
        if (snap.get() != current) {
            if (!edges_ || snap->edges != edges_) rebuild(snap);
            current = snap.get();
        }
        const std::int64_t now = ms_now();
        std::int64_t next = now + 1000;
        for (auto& t : targets_) {
            if (t->cfg.type == CheckConfig::Type::kNone || t->easy) continue;
            if (t->next_ms <= now)
                launch(*t);
            else
                next = std::min(next, t->next_ms);
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
            if (m->msg != CURLMSG_DONE) continue;
            Target* t = nullptr;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &t);
            if (t) finish(*t, m->data.result);
        }
        if (!warm_) {
            // Warm-up: health is used once every target has a result, or one
            // (longest) timeout after start, whichever comes first.
            std::uint32_t longest = 0;
            bool all = true;
            for (auto& t : targets_) {
                if (t->cfg.type == CheckConfig::Type::kNone) continue;
                longest = std::max(longest, t->cfg.timeout_ms + t->cfg.interval_ms / 4);
                all = all && t->h.checked;
            }
            // (+100 ms: a check that fails exactly at its timeout still counts.)
            if (all || ms_now() - started_ms_ > longest + 100) {
                warm_ = true;
                dirty_ = true;
                std::size_t up = 0, total = 0;
                for (auto& t : targets_)
                    if (t->cfg.type != CheckConfig::Type::kNone) {
                        ++total;
                        up += t->h.up && t->h.checked;
                    }
                SP_LOG_INFO(
                    "health: warm-up %s: %zu of %zu checked addresses up; redirects now use health",
                    all ? "complete" : "timed out", up, total);
            }
        }
        if (dirty_) publish();
        const int wait = static_cast<int>(std::clamp<std::int64_t>(next - ms_now(), 0, 1000));
        curl_multi_poll(multi, nullptr, 0, running > 0 ? std::min(wait, 50) : wait, nullptr);
    }
}

}  // namespace signpost::dnsd
