#pragma once
// Secondary zones (RFC 1034 4.3.5, RFC 1995, RFC 1996, RFC 5936): dnsd takes
// a zone from its primaries instead of a file it is given. On its own thread,
// for each secondary zone: ask the primaries for the SOA every refresh
// interval (at once after a NOTIFY from one of them, every retry interval
// after a failure); when a primary has a newer serial, transfer the zone
// (IXFR from the copy's serial, else AXFR); write the result to the zone's
// `file` (temporary file, fsync, the zone loader's check, rename) and reload,
// so the new copy is served like any zone file, with its redirect names on
// top. The file's modification time is the last time a primary answered: a
// copy whose SOA expire has passed since is not served (SERVFAIL), also
// after a restart. Nothing on the query path waits for any of it.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/snapshot.hpp"
#include "dnsd/server/config.hpp"
#include "dnsd/zone/zone.hpp"
#include "dnsd/zone/zone_copy.hpp"

namespace signpost::dnsd {
inline namespace server {

struct ServingState;

// Where the workers leave the NOTIFYs they acknowledged (zone.hpp's
// listener): the secondaries' thread takes them.
class NotifyInbox : public NotifyListener {
  public:
    NotifyInbox();
    ~NotifyInbox() override;
    void notified(std::string_view origin, const common::IpAddress& from) const override;
    int fd() const { return fd_; }  // readable when a NOTIFY is waiting
    std::set<std::string> take();   // the origins notified since the last take

  private:
    int fd_ = -1;
    mutable std::mutex mu_;
    mutable std::set<std::string> pending_;
};

// Whether a secondary zone's copy may be served: it exists and its SOA
// expire has not passed since a primary last answered (the file's mtime).
bool secondary_copy_expired(const std::string& file, std::uint32_t expire);

class Secondaries {
  public:
    // `inbox`: the listener the states' secondary zones were built with;
    // `reload`: reloads the configuration (its error, empty if published).
    Secondaries(common::Snapshot<ServingState>& state, std::shared_ptr<NotifyInbox> inbox,
                std::function<std::string()> reload);
    ~Secondaries();
    Secondaries(const Secondaries&) = delete;
    Secondaries& operator=(const Secondaries&) = delete;

    void start();
    void stop();
    // The secondary zones of the state just published (new ones are checked at once).
    void update();
    void render(std::string& out) const;  // Prometheus text

  private:
    struct Tracked {
        ZoneConfig config;
        std::string origin;  // lower-case wire
        std::chrono::steady_clock::time_point next{};
        unsigned failures = 0;  // checks in a row that no primary answered
        std::chrono::steady_clock::time_point last_check{};
        // The copy's records as transferred (the IXFR base), and their serial.
        std::shared_ptr<const RecordSet> records;
        std::uint32_t records_serial = 0;
        // Counters.
        std::uint64_t checks = 0, check_failures = 0, axfr = 0, ixfr = 0, notifies = 0;
        std::uint64_t last_ok_unix = 0;
    };
    void run();
    // One SOA check (and transfer) of the zone; updates `t` (a copy).
    void refresh(Tracked& t);
    // A primary answered: the end of an outage is said.
    static void answered(Tracked& t, const ListenAddress& primary);

    common::Snapshot<ServingState>& state_;
    std::function<std::string()> reload_;
    std::shared_ptr<NotifyInbox> inbox_;
    mutable std::mutex mu_;
    std::map<std::string, Tracked> zones_;  // by origin, under mu_
    int wake_fd_ = -1;                      // a zone was added
    int stop_fd_ = -1;                      // ends every wait, transfers too
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace server
}  // namespace signpost::dnsd
