#include "dnsd/server/serving_state.hpp"

#include <malloc.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <ctime>
#include <set>

#include "common/file_watch.hpp"
#include "common/log.hpp"
#include "common/metrics_server.hpp"
#include "common/service.hpp"
#include "dnsd/redirect/redirect.hpp"
#include "dnsd/server/secondary.hpp"
#include "dnsd/zone/zone_copy.hpp"
#include "dnsd/zone/zone_loader.hpp"

namespace signpost::dnsd {
inline namespace server {

namespace {

// The series of one redirect: a tier each, and each node it can answer with
// (the members of its map's entries and of its fallback pool).
RedirectSlots redirect_slots(const EdgeSet& edges, const RedirectConfig& r,
                             LabeledCounters& counters) {
    counters.family("redirect_answers_by_tier_total",
                    "redirect answers by the tier that decided them (cidr, asn, country, "
                    "continent, default; fallback: no geo table; fail-open: every candidate "
                    "down)");
    counters.family("redirect_answers_by_node_total",
                    "redirect answers by node: each answer counts once for every node whose "
                    "addresses it carries");
    RedirectSlots s;
    const std::string redirect = "redirect=" + common::label_value(r.name);
    for (Tier t : {Tier::kCidr, Tier::kAsn, Tier::kNearest, Tier::kCountry, Tier::kContinent,
                   Tier::kDefault, Tier::kFallback, Tier::kFailOpen})
        s.tier[static_cast<std::size_t>(t)] =
            counters.slot("redirect_answers_by_tier_total",
                          redirect + ",tier=" + common::label_value(tier_name(t)));
    std::vector<bool> used(edges.nodes.size(), false);
    for (const auto& m : r.fallback.members)
        if (m.node < used.size()) used[m.node] = true;
    if (auto it = edges.maps.find(r.map); it != edges.maps.end())
        for (const std::uint32_t n : it->second.node_indexes())
            if (n < used.size()) used[n] = true;
    s.node.assign(edges.nodes.size(), RedirectSlots::kNoSlot);
    for (std::size_t n = 0; n < edges.nodes.size(); ++n)
        if (used[n])
            s.node[n] =
                counters.slot("redirect_answers_by_node_total",
                              redirect + ",node=" + common::label_value(edges.nodes[n].name));
    return s;
}

// A secondary zone: its copy on disk while the SOA expire has not passed
// since a primary last answered, else a zone without data (SERVFAIL) until
// the first transfer. A copy the loader refuses is transferred afresh.
std::shared_ptr<Zone> secondary_zone(const ZoneConfig& zc,
                                     const std::shared_ptr<const NotifyListener>& listener,
                                     std::vector<std::string>& warnings) {
    std::shared_ptr<Zone> z;
    if (::access(zc.file.c_str(), F_OK) == 0) {
        auto res = load_zone_file(zc.name, zc.file);
        if (!res.zone)
            warnings.push_back("secondary " + zc.name + ": the copy on disk is refused (" +
                               res.error + "): it will be transferred again");
        else if (secondary_copy_expired(zc.file,
                                        soa_timers(res.zone->soa->records.front().rdata).expire))
            warnings.push_back("secondary " + zc.name + ": the copy in " + zc.file +
                               " has expired (no primary has confirmed it within the SOA "
                               "expire): SERVFAIL until a primary answers");
        else
            z = std::move(res.zone);
    }
    if (!z) {
        z = std::make_shared<Zone>();
        z->origin = text_to_wire(zc.name);
        z->file = zc.file;
        z->unavailable = true;
        for (std::size_t p = 0; z->origin[p] != 0;
             p += static_cast<unsigned char>(z->origin[p]) + 1u)
            ++z->origin_labels;
    }
    z->allow_transfer = zc.allow_transfer;
    z->transfer_keys = zc.transfer_keys;
    for (const auto& p : zc.primaries) z->notify_from.push_back(p.address.unmapped());
    z->on_notify = listener;
    return z;
}

// serial = "unixtime": an unchanged zone keeps the serial it was served
// with; a changed one (or a first load) gets the highest of the file's
// serial, the time now and the last served + 1, in RFC 1982 order.
void raise_serial(Zone& z, const Zone* old, const ZoneConfig& zc,
                  std::vector<std::string>& warnings) {
    auto later = [](std::uint32_t a, std::uint32_t b) {
        return static_cast<std::int32_t>(a - b) > 0 ? a : b;
    };
    const std::uint32_t file = z.serial;
    std::uint32_t serial;
    if (old && old->content_hash == z.content_hash) {
        serial = later(file, old->serial);
    } else {
        serial = later(file, static_cast<std::uint32_t>(std::time(nullptr)));
        if (old) serial = later(serial, old->serial + 1);
    }
    if (serial == file) return;
    set_serial(z, serial);
    if (!old || old->serial != serial)
        warnings.push_back("zone " + zc.name + ": serving serial " + std::to_string(serial) +
                           " (serial = \"unixtime\"; " + zc.file + " says " + std::to_string(file) +
                           ")");
}

}  // namespace

namespace {

std::string lower_wire(const std::uint8_t* p, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n && p[i] != 0;) {
        const std::size_t len = p[i];
        if (len > 63 || i + 1 + len > n) return {};
        out.push_back(static_cast<char>(len));
        for (std::size_t k = 1; k <= len; ++k) {
            const std::uint8_t c = p[i + k];
            out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c));
        }
        i += len + 1;
    }
    out.push_back('\0');
    return out;
}

// notify_ns: the in-zone addresses of the apex NS targets, the MNAME left out.
void add_ns_targets(const Zone& z, const std::string& zone_name,
                    const std::vector<ListenAddress>& own, std::vector<ListenAddress>& targets,
                    std::vector<std::string>& warnings) {
    if (!z.apex || !z.soa || z.soa->records.empty()) return;
    const auto& soa = z.soa->records.front().rdata;
    const std::string mname = lower_wire(soa.data(), soa.size());
    const RRset* ns = z.apex->find(type::NS);
    if (!ns) return;
    for (const auto& r : ns->records) {
        const std::string target = lower_wire(r.rdata.data(), r.rdata.size());
        if (target.empty() || target == mname) continue;
        const Node* n = z.node(target);
        std::size_t found = 0;
        for (std::uint16_t t : {type::A, type::AAAA}) {
            const RRset* a = n ? n->find(t) : nullptr;
            for (std::size_t i = 0; a && i < a->records.size(); ++i) {
                const auto& rd = a->records[i].rdata;
                if (rd.size() != (t == type::A ? 4u : 16u)) continue;
                ListenAddress l{
                    common::IpAddress::from_bytes(
                        t == type::A ? common::Family::kV4 : common::Family::kV6, rd.data()),
                    53};
                ++found;
                bool dup = false;
                for (const auto& e : targets)
                    dup = dup || (e.address == l.address && e.port == l.port);
                // Nor dnsd itself (BIND leaves out its own addresses too).
                for (const auto& e : own) dup = dup || (e.address == l.address && e.port == l.port);
                if (!dup) targets.push_back(l);
            }
        }
        if (found == 0)
            warnings.push_back("zone " + zone_name + ": notify_ns: NS " +
                               name_to_text(reinterpret_cast<const std::uint8_t*>(target.data())) +
                               " has no address in the zone: it is not notified");
    }
}

}  // namespace

std::shared_ptr<const ServingState> build_state(const Config& config, std::uint64_t generation,
                                                std::string& error,
                                                std::vector<std::string>& warnings,
                                                std::shared_ptr<const common::GeoTable> table,
                                                LabeledCounters* counters,
                                                const ServingState* previous,
                                                std::shared_ptr<const NotifyListener> listener) {
    auto st = std::make_shared<ServingState>();
    st->generation = generation;
    st->options.edns_payload = config.edns_payload;
    st->options.nsid = config.nsid;
    st->options.cookies = config.cookies;
    if (config.rrl.responses_per_second != 0) st->rrl = std::make_shared<RateLimiter>(config.rrl);
    st->options.cookie_secret = config.cookie_secret.value_or(process_cookie_secret());
    st->keys = config.keys;
    auto edges = std::make_shared<const EdgeSet>(config.edges);
    st->edges = edges;
    std::vector<std::shared_ptr<Zone>> zones;
    std::vector<const ZoneConfig*> configs;  // each zone's
    for (const auto& zc : config.zones) {
        configs.push_back(&zc);
        if (zc.secondary()) {
            zones.push_back(secondary_zone(zc, listener, warnings));
            st->secondaries.push_back(zc);
            continue;
        }
        auto res = load_zone_file(zc.name, zc.file);
        warnings.insert(warnings.end(), res.warnings.begin(), res.warnings.end());
        if (!res.zone) {
            error = res.error;
            return nullptr;
        }
        res.zone->allow_transfer = zc.allow_transfer;
        res.zone->transfer_keys = zc.transfer_keys;
        zones.push_back(std::move(res.zone));
    }
    // Bind each redirect name to its zone: a node whose answer is computed.
    for (std::size_t i = 0; i < edges->redirects.size(); ++i) {
        const auto& r = edges->redirects[i];
        const std::string wire = text_to_wire(r.name);
        const std::string where =
            config.path + ":" + std::to_string(r.line) + ": redirect " + r.name;
        if (wire.empty()) {
            error = where + ": not a valid domain name";
            return nullptr;
        }
        Zone* zone = nullptr;
        for (auto& z : zones) {
            const auto& o = z->origin;
            if (wire.size() > o.size() && wire.compare(wire.size() - o.size(), o.size(), o) == 0 &&
                (zone == nullptr || o.size() > zone->origin.size()))
                zone = z.get();
        }
        if (!zone) {
            error = where + ": not below any served zone";
            return nullptr;
        }
        // A secondary's data comes from its primaries, and an edit there must
        // not stop every reload (or the next start): the redirect replaces
        // records at its name, and one below a cut the primaries made is
        // left out; both said as warnings. In a file zone, both are errors.
        const bool secondary = !zone->notify_from.empty();
        std::string cut;
        for (std::string n = wire; n != zone->origin && cut.empty();) {
            n = n.substr(static_cast<unsigned char>(n[0]) + 1u);
            auto it = zone->nodes.find(n);
            if (it != zone->nodes.end() && it->second.delegation) cut = n;
        }
        if (!cut.empty()) {
            const std::string what =
                where + ": below the zone cut " +
                name_to_text(reinterpret_cast<const std::uint8_t*>(cut.data()));
            if (!secondary) {
                error = what;
                return nullptr;
            }
            warnings.push_back(what + " the primaries have: not served");
            continue;
        }
        Node& node = zone->nodes[wire];
        if (!node.rrsets.empty() && !node.dynamic && secondary) {
            warnings.push_back(where + ": replaces the records the primaries have at this name");
            node.rrsets.clear();
            node.delegation = false;  // the name's NS went with them
        }
        if (!node.rrsets.empty() || node.dynamic) {
            error = where + ": the zone file " + zone->file + " already has records at this name";
            return nullptr;
        }
        node.dynamic = std::make_shared<RedirectAnswer>(
            edges, i, counters ? redirect_slots(*edges, r, *counters) : RedirectSlots{});
        // Ancestors up to the apex exist (empty non-terminals), and a wildcard
        // redirect marks its parent.
        for (std::string n = wire; n != zone->origin;) {
            const std::string parent = n.substr(static_cast<unsigned char>(n[0]) + 1u);
            Node& p = zone->nodes[parent];
            if (n[0] == 1 && n[1] == '*') p.wildcard_child = true;
            n = parent;
        }
    }
    for (std::size_t i = 0; i < zones.size(); ++i) {
        auto& z = zones[i];
        const ZoneConfig& zc = *configs[i];
        z->seal();
        const Zone* old = nullptr;
        if (previous)
            for (const auto& o : previous->zones.all())
                if (o->origin == z->origin && !o->unavailable) old = o.get();
        if (zc.serial == ZoneConfig::SerialPolicy::kUnixtime) raise_serial(*z, old, zc, warnings);
        // What changed since the state being replaced: the IXFR history.
        if (old) record_history(*z, *old);
        if (!z->unavailable) {
            NotifyZone nz{z->origin, z->serial, zc.notify};
            if (zc.notify_ns) add_ns_targets(*z, zc.name, config.listen, nz.targets, warnings);
            st->notify_zones.push_back(std::move(nz));
        }
        st->zones.add(std::move(z));
    }
    st->decisions = compile_decisions(*edges, std::move(table));
    return st;
}

void StateReloader::set_table(std::shared_ptr<const common::GeoTable> table) {
    std::lock_guard lock(mu_);
    table_ = table;
    const auto current = state_.load();
    auto next = std::make_shared<ServingState>(*current);
    next->decisions = compile_decisions(*next->edges, std::move(table));
    std::size_t v4 = 0, v6 = 0, bytes = 0;
    for (const auto& m : next->decisions->maps) {
        v4 += m.ranges(common::Family::kV4);
        v6 += m.ranges(common::Family::kV6);
        bytes += m.memory_bytes();
    }
    SP_LOG_INFO(
        "geo table generation %llu: %zu map(s) compiled in %.1f ms (%zu IPv4, %zu IPv6 "
        "decision ranges, %.1f MiB)",
        static_cast<unsigned long long>(next->decisions->table->generation()),
        next->decisions->maps.size(), next->decisions->compile_ms, v4, v6,
        static_cast<double>(bytes) / (1 << 20));
    state_.publish(std::move(next));
    // The query path reads only the decision ranges: the table's pages need
    // not stay resident in dnsd (geoipd holds them; explain faults in a few).
    table_->release_pages();
    // And the compile's temporaries, freed on this (non-main) thread, go
    // back to the system instead of staying in its malloc arena.
    ::malloc_trim(0);
}

std::shared_ptr<const common::GeoTable> StateReloader::table() const {
    std::lock_guard lock(mu_);
    return table_;
}

std::vector<std::string> StateReloader::files() const {
    std::string error;
    std::vector<std::string> out{path_};
    auto config = load_config(path_, error);
    if (!config) return out;  // the config itself is broken: watch it for the fix
    for (const auto& z : config->zones)
        if (!z.secondary()) out.push_back(z.file);  // a secondary's copy is dnsd's own
    for (const auto& [name, m] : config->edges.maps)
        if (m.file != path_) out.push_back(m.file);
    return out;
}

void StateReloader::note_files() {
    noted_.clear();
    for (const auto& f : files()) noted_.emplace_back(f, common::FileWatcher::identify(f));
}

std::vector<std::string> StateReloader::changed_since_noted() const {
    std::vector<std::string> out;
    for (const auto& [f, id] : noted_)
        if (common::FileWatcher::identify(f) != id) out.push_back(f);
    return out;
}

void FileReloader::start() {
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    // Watching starts here, not when the thread gets to run: once start()
    // returns (and dnsd says it is serving), no rename goes unnoticed.
    files_ = reloader_.files();
    watcher_ = std::make_unique<common::FileWatcher>(files_, std::chrono::seconds(5),
                                                     std::chrono::milliseconds(100));
    // And what changed between reading the files and now is reloaded at once.
    auto early = reloader_.changed_since_noted();
    thread_ = std::thread([this, early = std::move(early)] { run(early); });
}

void FileReloader::stop() {
    if (!thread_.joinable()) return;
    stopping_ = true;
    std::uint64_t one = 1;
    ssize_t w = ::write(wake_fd_, &one, sizeof one);
    (void)w;
    thread_.join();
    ::close(wake_fd_);
}

void FileReloader::run(const std::vector<std::string>& early) {
    auto files = std::move(files_);
    auto watcher = std::move(watcher_);
    std::set<std::string> changed(early.begin(), early.end());
    while (!stopping_) {
        if (changed.empty()) changed = watcher->wait(std::chrono::seconds(3600), wake_fd_);
        if (stopping_) return;
        if (changed.empty()) continue;
        SP_LOG_INFO("%s changed: reloading", changed.begin()->c_str());
        changed.clear();
        // Watch afresh *before* reading, so a change during the reload is seen.
        watcher = std::make_unique<common::FileWatcher>(files, std::chrono::seconds(5),
                                                        std::chrono::milliseconds(100));
        // A successful reload may have added or dropped files; after a failed
        // one keep watching what we had, or the fix would go unnoticed.
        if (!reloader_.reload().empty()) continue;
        auto now = reloader_.files();
        if (now != files) {
            files = std::move(now);
            watcher = std::make_unique<common::FileWatcher>(files, std::chrono::seconds(5),
                                                            std::chrono::milliseconds(100));
        }
    }
}

std::string StateReloader::reload() {
    std::lock_guard lock(mu_);
    // The service manager sees every reload (SIGHUP, dnsdctl, a renamed
    // file) and its end, whether the new state was published or refused.
    common::notify_reloading();
    std::string error = reload_locked();
    common::notify_ready(status_ ? status_() : std::string("serving"));
    return error;
}

std::string StateReloader::reload_locked() {
    std::string error;
    auto config = load_config(path_, error);
    std::vector<std::string> warnings;
    std::shared_ptr<const ServingState> next;
    const auto current = state_.load();
    if (config)
        next = build_state(*config, current->generation + 1, error, warnings, table_, counters_,
                           current.get(), listener_);
    if (table_) table_->release_pages();
    ::malloc_trim(0);
    for (const auto& w : warnings) SP_LOG_WARN("%s", w.c_str());
    if (!next) {
        ++failures_;
        SP_LOG_ERROR("reload refused, still serving generation %llu: %s",
                     static_cast<unsigned long long>(current->generation), error.c_str());
        return error;
    }
    state_.publish(next);
    common::set_log_level(config->log_level);
    if (on_publish_) on_publish_();
    ++reloads_;
    if (running_)
        for (const auto& key : restart_only_changes(*running_, *config))
            SP_LOG_WARN(
                "%s: [server] %s changed: it takes effect when dnsd restarts (the rest of "
                "this reload is live)",
                path_.c_str(), key.c_str());
    for (const auto& z : next->zones.all()) {
        const std::string name =
            name_to_text(reinterpret_cast<const std::uint8_t*>(z->origin.data()));
        if (z->unavailable) {
            SP_LOG_INFO("zone %s: no copy from its primaries yet (SERVFAIL)", name.c_str());
            continue;
        }
        SP_LOG_INFO("zone %s serial %u from %s", name.c_str(), z->serial, z->file.c_str());
        for (const auto& old : current->zones.all()) {
            if (old->origin != z->origin || old->unavailable) continue;
            if (old->serial == z->serial && old->content_hash != z->content_hash)
                SP_LOG_WARN(
                    "zone %s changed but its serial %u did not: secondaries keep the old "
                    "copy until the serial is raised (%s)",
                    name.c_str(), z->serial, z->file.c_str());
            else if (static_cast<std::int32_t>(z->serial - old->serial) < 0)
                SP_LOG_WARN(
                    "zone %s serial went back from %u to %u: secondaries ignore it "
                    "(RFC 1982)",
                    name.c_str(), old->serial, z->serial);
        }
    }
    SP_LOG_INFO("published generation %llu", static_cast<unsigned long long>(next->generation));
    return {};
}

}  // namespace server
}  // namespace signpost::dnsd
