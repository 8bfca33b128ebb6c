// The client's deadlines and error handling against peers that misbehave in
// ways geoipd never does: they are what dnsd must survive. Answers from the
// real geoipd are covered by the system tests.
#include "common/geo_client.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/unix_socket.hpp"

using namespace signpost::common;
using namespace std::chrono_literals;

namespace {
std::string temp_socket(const char* name) {
    return "/tmp/signpost-" + std::to_string(getpid()) + "-" + name + ".sock";
}
}  // namespace

TEST(GeoClient, ConnectFailureIsAnErrorNotAHang) {
    GeoClient c("/nonexistent/dir/geoipd.sock");
    auto r = c.lookup(*IpAddress::parse("1.2.3.4"), 100ms);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("connect"), std::string::npos);
}

TEST(GeoClient, SilentPeerTimesOutAtTheDeadline) {
    std::string err;
    const auto path = temp_socket("silent");
    int lfd = listen_unix(path, 4, err);
    ASSERT_GE(lfd, 0) << err;
    GeoClient c(path);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.lookup(*IpAddress::parse("1.2.3.4"), 50ms);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("timeout"), std::string::npos) << r.error;
    EXPECT_GE(took, 45ms);
    EXPECT_LT(took, 1000ms);
    EXPECT_FALSE(c.connected());  // answers may still arrive: the connection is unusable
    ::close(lfd);
    ::unlink(path.c_str());
}

TEST(GeoClient, GarbageFromPeerClosesTheConnection) {
    std::string err;
    const auto path = temp_socket("garbage");
    int lfd = listen_unix(path, 4, err);
    ASSERT_GE(lfd, 0) << err;
    std::thread peer([lfd] {
        pollfd p{lfd, POLLIN, 0};
        ::poll(&p, 1, 2000);
        int fd = ::accept(lfd, nullptr, nullptr);
        const char junk[] = "this is not json\n";
        ssize_t w = ::write(fd, junk, sizeof junk - 1);
        (void)w;
        char buf[256];
        ssize_t r = ::read(fd, buf, sizeof buf);
        (void)r;
        ::close(fd);
    });
    GeoClient c(path);
    auto r = c.lookup(*IpAddress::parse("1.2.3.4"), 2000ms);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("malformed"), std::string::npos) << r.error;
    EXPECT_FALSE(c.connected());
    peer.join();
    ::close(lfd);
    ::unlink(path.c_str());
}
