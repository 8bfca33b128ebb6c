#pragma once
// Everything a query needs, as one immutable snapshot: built aside from the
// config and zone files, published with one pointer swap, freed when the last
// worker batch using it is done.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/file_watch.hpp"
#include "common/geo_table.hpp"
#include "common/snapshot.hpp"
#include "dnsd/redirect/decisions.hpp"
#include "dnsd/server/config.hpp"
#include "dnsd/server/labeled_counters.hpp"
#include "dnsd/server/notifier.hpp"
#include "dnsd/zone/responder.hpp"
#include "dnsd/zone/zone.hpp"

namespace signpost::dnsd {
inline namespace server {

struct ServingState {
    ZoneSet zones;
    std::shared_ptr<const EdgeSet> edges;
    ResponderOptions options;
    std::shared_ptr<const RateLimiter> rrl;  // nullptr: no rate limiting
    // Every map compiled against the geo table: replaced (in a copy of this
    // state) when a new table arrives, rebuilt when the config changes.
    std::shared_ptr<const Decisions> decisions;
    std::uint64_t generation = 0;
    // Each zone's serial and the secondaries to NOTIFY when it changes.
    std::vector<NotifyZone> notify_zones;
    // The secondary zones, as configured (server/secondary.hpp keeps them).
    std::vector<ZoneConfig> secondaries;
    // Every [[keys]] entry: signed queries and NOTIFYs are checked against them.
    std::vector<std::shared_ptr<const TsigKey>> keys;
};

// Loads every zone of `config` and compiles its maps against `table` (may be
// null); nullptr with `error` (file:line) if any fails.
// With `counters`, each redirect gets its series there (answers per tier and
// per node it can answer with).
std::shared_ptr<const ServingState> build_state(
    const Config& config, std::uint64_t generation, std::string& error,
    std::vector<std::string>& warnings, std::shared_ptr<const common::GeoTable> table = {},
    LabeledCounters* counters = nullptr, const ServingState* previous = nullptr,
    std::shared_ptr<const NotifyListener> listener = {});

// Re-reads the config file and its zones and publishes the result, or keeps
// the old state and says why. Callable from any thread (signal, control).
class StateReloader {
  public:
    StateReloader(std::string config_path, common::Snapshot<ServingState>& state)
        : path_(std::move(config_path)), state_(state) {}
    // Returns an empty string on success, else the error.
    std::string reload();
    std::uint64_t reloads() const { return reloads_; }
    // Every file the current configuration was built from (config, zones, map
    // files): what a file watcher should watch.
    std::vector<std::string> files() const;
    std::uint64_t failures() const { return failures_; }
    // Records the identity of every file now (call once the first state is
    // built); changed_since_noted() then lists those that changed since, such
    // as a map renamed into place while dnsd was starting, before any watcher.
    void note_files();
    std::vector<std::string> changed_since_noted() const;
    // The config dnsd started with: a reload that changes one of its
    // start-only [server] settings says that the change waits for a restart.
    void set_running_config(Config c) { running_ = std::move(c); }
    // Called after each publish (the health checker re-indexes at once).
    void set_on_publish(std::function<void()> f) { on_publish_ = std::move(f); }
    // The one-line status sent to the service manager after each reload.
    void set_status(std::function<std::string()> f) {
        std::lock_guard lock(mu_);  // reload() calls it
        status_ = std::move(f);
    }
    // A new geo table: every map of the current state is compiled against it
    // aside, then the state is published again with the new decisions (same
    // zones, same generation). Later reloads compile against it too.
    void set_table(std::shared_ptr<const common::GeoTable> table);
    // Where reloaded states give their redirects' series (the same as the first state's).
    void set_counters(LabeledCounters* c) { counters_ = c; }
    // Who hears of the NOTIFYs for secondary zones (the same as the first state's).
    void set_notify_listener(std::shared_ptr<const NotifyListener> l) { listener_ = std::move(l); }
    std::shared_ptr<const common::GeoTable> table() const;

  private:
    std::string reload_locked();
    std::function<void()> on_publish_;
    LabeledCounters* counters_ = nullptr;
    std::shared_ptr<const NotifyListener> listener_;
    std::function<std::string()> status_;
    std::optional<Config> running_;
    std::string path_;
    std::vector<std::pair<std::string, common::FileWatcher::Identity>> noted_;
    common::Snapshot<ServingState>& state_;
    std::shared_ptr<const common::GeoTable> table_;  // under mu_
    mutable std::mutex mu_;  // one reload or table change at a time; queries never take it
    std::atomic<std::uint64_t> reloads_{0};
    std::atomic<std::uint64_t> failures_{0};
};

// Watches the configuration's files and reloads when one is renamed into
// place or rewritten (inotify, with a periodic stat as a fallback), after the
// directory has been quiet for a moment. Runs on its own thread.
class FileReloader {
  public:
    explicit FileReloader(StateReloader& r) : reloader_(r) {}
    ~FileReloader() { stop(); }
    void start();
    void stop();

  private:
    void run(const std::vector<std::string>& early);  // early: changed before start()
    StateReloader& reloader_;
    std::vector<std::string> files_;
    std::unique_ptr<common::FileWatcher> watcher_;
    int wake_fd_ = -1;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace server
}  // namespace signpost::dnsd
