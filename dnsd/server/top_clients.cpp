#include "dnsd/server/top_clients.hpp"

#include <algorithm>
#include <cmath>

#include "common/json.hpp"
#include "common/metrics_server.hpp"
#include "dnsd/server/labeled_counters.hpp"

namespace signpost::dnsd {
inline namespace server {

namespace {

constexpr std::uint32_t kOtherAsn = ~0u;
constexpr std::uint16_t kOtherCountry = 0xffff;

std::uint16_t country_key(std::string_view cc) {
    if (cc.size() != 2) return 0;
    return static_cast<std::uint16_t>((static_cast<unsigned char>(cc[0]) << 8) |
                                      static_cast<unsigned char>(cc[1]));
}

std::string country_text(std::uint16_t k) {
    if (k == 0) return "--";
    if (k == kOtherCountry) return "other";
    return std::string{static_cast<char>(k >> 8), static_cast<char>(k & 0xff)};
}

template <class Map, class Key>
void add(Map& m, Key k, double w, Key other) {
    if (m.size() >= TopClients::kKeysPerBucket && !m.count(k)) k = other;
    m[k] += w;
}

std::string thousands(double v) {
    std::string s = std::to_string(static_cast<unsigned long long>(std::llround(v)));
    for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3)
        s.insert(static_cast<std::size_t>(i), ",");
    return s;
}

}  // namespace

TopClients::TopClients(std::chrono::seconds window, std::chrono::seconds bucket)
    : window_(window), bucket_(bucket) {}

TopClients::Bucket& TopClients::current(Clock::time_point now) {
    const long long id =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() /
        bucket_.count();
    if (buckets_.empty() || buckets_.back().id != id) {
        buckets_.push_back(Bucket{});
        buckets_.back().id = id;
    }
    const long long keep = window_.count() / bucket_.count();
    while (!buckets_.empty() && buckets_.front().id <= id - keep) buckets_.pop_front();
    return buckets_.back();
}

void TopClients::collect(Stats& stats, unsigned workers, const common::GeoTable* table,
                         Clock::time_point now) {
    std::lock_guard lock(mu_);
    if (!have_start_) {
        started_ = now;
        have_start_ = true;
    }
    Bucket& b = current(now);
    last_answers_.resize(workers, 0);
    bool looked_up = false;
    for (unsigned i = 0; i < workers; ++i) {
        WorkerStats& w = stats.worker(i);
        if (!w.samples) continue;
        std::vector<common::IpAddress> got;
        w.samples->drain([&](const common::IpAddress& a) { got.push_back(a); });
        const std::uint64_t answers = w.redirect_answers.load(std::memory_order_relaxed);
        const std::uint64_t delta = answers - std::min(answers, last_answers_[i]);
        last_answers_[i] = answers;
        if (got.empty()) continue;
        // Each sample stands for its share of the answers since the last drain.
        const double weight = static_cast<double>(std::max<std::uint64_t>(delta, got.size())) /
                              static_cast<double>(got.size());
        b.queries += weight * static_cast<double>(got.size());
        b.samples += got.size();
        for (const auto& a : got) {
            std::uint32_t asn = 0;
            std::uint16_t cc = 0;
            if (table) {
                const auto f = table->lookup(a);
                asn = f.asn;
                cc = country_key(f.country);
                if (asn != 0 && !f.as_org.empty() && orgs_.size() < 100000) {
                    auto& org = orgs_[asn];
                    if (org != f.as_org) org.assign(f.as_org);
                }
                looked_up = true;
            }
            add(b.asn, asn, weight, kOtherAsn);
            add(b.country, cc, weight, kOtherCountry);
        }
    }
    // The table is mapped for the decisions' compiles, not for lookups: give
    // back the pages these lookups faulted in, so dnsd's memory stays small.
    if (looked_up) table->release_pages();
}

TopClients::Top TopClients::top(std::size_t k) const {
    std::lock_guard lock(mu_);
    std::unordered_map<std::uint32_t, double> asn;
    std::unordered_map<std::uint16_t, double> cc;
    Top t;
    for (const auto& b : buckets_) {
        for (const auto& [a, v] : b.asn) asn[a] += v;
        for (const auto& [c, v] : b.country) cc[c] += v;
        t.queries += b.queries;
        t.samples += b.samples;
    }
    if (have_start_ && !buckets_.empty()) {
        const long long since = (buckets_.back().id - buckets_.front().id + 1) * bucket_.count();
        t.window_s = std::min<long long>(since, window_.count());
    }
    auto ranked = [k](auto& m) {
        std::vector<std::pair<typename std::decay_t<decltype(m)>::key_type, double>> v(m.begin(),
                                                                                       m.end());
        std::sort(v.begin(), v.end(), [](const auto& x, const auto& y) {
            return x.second != y.second ? x.second > y.second : x.first < y.first;
        });
        if (v.size() > k) v.resize(k);
        return v;
    };
    for (const auto& [a, v] : ranked(asn)) {
        Entry e;
        if (a == kOtherAsn) {
            e.key = "other";
        } else {
            e.key = "AS" + std::to_string(a);
            if (auto it = orgs_.find(a); it != orgs_.end()) e.name = it->second;
            if (a == 0) e.name = "(not in the database)";
        }
        e.queries = v;
        t.asns.push_back(std::move(e));
    }
    for (const auto& [c, v] : ranked(cc)) t.countries.push_back({country_text(c), "", v});
    return t;
}

void TopClients::render(std::string& out) const {
    const Top t = top(10);
    out +=
        "# HELP signpost_dnsd_top_window_seconds the window of the top ASN and country "
        "gauges\n# TYPE signpost_dnsd_top_window_seconds gauge\n";
    out += "signpost_dnsd_top_window_seconds " + std::to_string(t.window_s) + "\n";
    out +=
        "# HELP signpost_dnsd_top_asn_queries redirect queries in the window from the 10 "
        "busiest ASNs (estimated from samples)\n# TYPE signpost_dnsd_top_asn_queries gauge\n";
    for (std::size_t i = 0; i < t.asns.size(); ++i)
        out += "signpost_dnsd_top_asn_queries{rank=\"" + std::to_string(i + 1) +
               "\",asn=" + common::label_value(t.asns[i].key) +
               ",as_org=" + common::label_value(t.asns[i].name) + "} " +
               std::to_string(std::llround(t.asns[i].queries)) + "\n";
    out +=
        "# HELP signpost_dnsd_top_country_queries redirect queries in the window from the 10 "
        "busiest countries (estimated from samples)\n"
        "# TYPE signpost_dnsd_top_country_queries gauge\n";
    for (std::size_t i = 0; i < t.countries.size(); ++i)
        out += "signpost_dnsd_top_country_queries{rank=\"" + std::to_string(i + 1) +
               "\",country=" + common::label_value(t.countries[i].key) + "} " +
               std::to_string(std::llround(t.countries[i].queries)) + "\n";
}

std::string TopClients::json(std::size_t k) const {
    const Top t = top(k);
    std::string text = "redirect queries in the last " + std::to_string(t.window_s) +
                       " s: " + thousands(t.queries) + " (estimated from " +
                       thousands(static_cast<double>(t.samples)) + " samples)\n";
    char line[256];
    auto table = [&](const char* title, const std::vector<Entry>& v) {
        text += std::string("\n") + title + "\n";
        for (std::size_t i = 0; i < v.size(); ++i) {
            const double share = t.queries > 0 ? 100.0 * v[i].queries / t.queries : 0;
            std::snprintf(line, sizeof line, "%3zu  %-10s %12s %6.1f%%  %s\n", i + 1,
                          v[i].key.c_str(), thousands(v[i].queries).c_str(), share,
                          v[i].name.c_str());
            text += line;
        }
        if (v.empty()) text += "  (none yet)\n";
    };
    table("top ASNs", t.asns);
    table("top countries", t.countries);
    std::string out = "{\"ok\":true,\"window_s\":" + std::to_string(t.window_s) +
                      ",\"queries\":" + std::to_string(std::llround(t.queries)) +
                      ",\"samples\":" + std::to_string(t.samples);
    auto list = [&](const char* name, const std::vector<Entry>& v) {
        out += std::string(",\"") + name + "\":[";
        for (std::size_t i = 0; i < v.size(); ++i) {
            out += i ? ",{\"key\":" : "{\"key\":";
            common::json::append_string(out, v[i].key);
            if (!v[i].name.empty()) {
                out += ",\"name\":";
                common::json::append_string(out, v[i].name);
            }
            out += ",\"queries\":" + std::to_string(std::llround(v[i].queries)) + "}";
        }
        out += "]";
    };
    list("asns", t.asns);
    list("countries", t.countries);
    out += ",\"text\":";
    common::json::append_string(out, text);
    return out + "}";
}

}  // namespace server
}  // namespace signpost::dnsd
