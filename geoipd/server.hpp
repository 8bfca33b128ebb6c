#pragma once
// The geoipd socket server: N event-loop threads (epoll, non-blocking) sharing
// one listening Unix socket. Each connection has bounded buffers: a request
// line over kMaxRequestLine is refused and skipped, and a client that stops
// reading its answers has its input paused (not dropped) once its pending
// output passes a cap, so it can cost the server no more than that.
//
// `table` and `subscribe` answers carry the table's memfd (SCM_RIGHTS) on the
// first byte of their line; subscribers get every new generation pushed when
// notify_published() is called (a subscriber too far behind is closed).

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/privileges.hpp"
#include "common/snapshot.hpp"
#include "geoipd/database_set.hpp"
#include "geoipd/stats.hpp"

namespace signpost::geoipd {

struct ServerOptions {
    std::string socket_path;
    common::SocketAccess socket_access;
    unsigned threads = 1;
    unsigned max_clients = 1024;
    // Pending output per connection before its input is paused: 4096 answers
    // of ~250 bytes; enough for deep pipelining, small enough for 1024 clients.
    std::size_t max_pending_output = 1 << 20;
};

class Server {
  public:
    Server(ServerOptions opts, common::Snapshot<DatabaseSet>& dbs, Stats& stats);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    bool start(std::string& error);
    void stop();  // idempotent; joins the workers and removes the socket file
    // A new set was published: wakes every worker to push its table to
    // subscribers. Thread-safe; a few write(2)s.
    void notify_published();

  private:
    void run_worker(unsigned index);

    ServerOptions opts_;
    common::Snapshot<DatabaseSet>& dbs_;
    Stats& stats_;
    int listen_fd_ = -1;
    int stop_fd_ = -1;              // eventfd: readable when the workers must exit
    std::vector<int> publish_fds_;  // eventfd per worker: a new generation is published
    std::vector<std::thread> workers_;
    std::atomic<bool> stopped_{false};
};

}  // namespace signpost::geoipd
