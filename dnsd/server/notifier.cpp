#include "dnsd/server/notifier.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/log.hpp"
#include "dnsd/wire/wire.hpp"
#include "dnsd/zone/zone.hpp"

namespace signpost::dnsd {
inline namespace server {

namespace {

constexpr std::uint8_t kOpNotify = 4;

std::chrono::seconds backoff(int tries) {
    return std::chrono::seconds(std::min(60, 1 << std::min(tries, 6)));
}

std::string text(const std::string& origin) {
    return name_to_text(reinterpret_cast<const std::uint8_t*>(origin.data()));
}

}  // namespace

Notifier::Notifier() {
    std::uint32_t seed = 0;
    if (::getrandom(&seed, sizeof seed, 0) != sizeof seed)
        seed = static_cast<std::uint32_t>(::getpid());
    next_id_ = seed;
}

Notifier::~Notifier() {
    stop();
}

bool Notifier::start(const std::vector<ListenAddress>& sources, std::string& error) {
    fd4_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    fd6_ = ::socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);  // may fail: no IPv6
    wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd4_ < 0 || wake_fd_ < 0) {
        error = std::string("notify: socket: ") + std::strerror(errno);
        return false;
    }
    for (int* fd : {&fd4_, &fd6_}) {
        if (*fd < 0) continue;
        const bool v4 = fd == &fd4_;
        for (const auto& s : sources) {
            if (s.address.is_v4() != v4) continue;
            sockaddr_storage ss;
            const unsigned len = s.address.to_sockaddr(&ss);  // port 0: any
            bool wildcard = true;
            for (std::size_t i = 0; i < s.address.byte_len(); ++i)
                wildcard = wildcard && s.address.bytes()[i] == 0;
            if (wildcard) break;
            if (::bind(*fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
                error = "notify: bind to " + s.address.to_string() + ": " + std::strerror(errno);
                return false;
            }
            break;
        }
    }
    thread_ = std::thread([this] { run(); });
    return true;
}

void Notifier::stop() {
    if (thread_.joinable()) {
        stopping_ = true;
        std::uint64_t one = 1;
        ssize_t w = ::write(wake_fd_, &one, sizeof one);
        (void)w;
        thread_.join();
    }
    for (int* fd : {&fd4_, &fd6_, &wake_fd_})
        if (*fd >= 0) {
            ::close(*fd);
            *fd = -1;
        }
}

void Notifier::update(std::vector<NotifyZone> zones) {
    if (stopping_) return;
    {
        std::lock_guard lock(mu_);
        std::map<std::string, std::string> now;
        for (auto& z : zones) {
            std::string what = std::to_string(z.serial);
            for (const auto& t : z.targets) what += " " + t.text();
            now[z.origin] = what;
            auto it = notified_.find(z.origin);
            if (it != notified_.end() && it->second == what) continue;
            if (z.targets.empty()) continue;
            // A new serial replaces what was still being notified for the zone.
            std::erase_if(pending_, [&](const Pending& p) { return p.origin == z.origin; });
            for (const auto& t : z.targets)
                pending_.push_back(
                    Pending{z.origin, z.serial, t, 0, 0, std::chrono::steady_clock::now()});
            SP_LOG_INFO("notify: %s serial %u to %zu secondar%s", text(z.origin).c_str(), z.serial,
                        z.targets.size(), z.targets.size() == 1 ? "y" : "ies");
        }
        notified_ = std::move(now);  // zones no longer served are forgotten
    }
    std::uint64_t one = 1;
    ssize_t w = ::write(wake_fd_, &one, sizeof one);
    (void)w;
}

void Notifier::send(Pending& p) {
    // Header, then the question: the zone's apex, SOA, IN (RFC 1996 3.7).
    std::uint8_t msg[12 + 255 + 4];
    // A random ID per notification (RFC 5452's reasoning: a guessable ID lets
    // anyone cancel it), kept across its retries so that a late answer to an
    // earlier try still counts.
    if (p.tries == 0 && ::getrandom(&p.id, sizeof p.id, 0) != sizeof p.id)
        p.id = static_cast<std::uint16_t>(next_id_++ * 2654435761u >> 16);
    store16(msg, p.id);
    store16(msg + 2, static_cast<std::uint16_t>((kOpNotify << 11) | 0x0400));  // opcode NOTIFY, AA
    store16(msg + 4, 1);
    store16(msg + 6, 0);
    store16(msg + 8, 0);
    store16(msg + 10, 0);
    std::memcpy(msg + 12, p.origin.data(), p.origin.size());
    std::size_t len = 12 + p.origin.size();
    store16(msg + len, type::SOA);
    store16(msg + len + 2, klass::IN);
    len += 4;
    sockaddr_storage ss;
    const unsigned sl = p.target.address.to_sockaddr(&ss);
    if (p.target.address.is_v4()) {
        reinterpret_cast<sockaddr_in*>(&ss)->sin_port = htons(p.target.port);
    } else {
        reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port = htons(p.target.port);
    }
    const int fd = p.target.address.is_v4() ? fd4_ : fd6_;
    ++p.tries;
    p.next = std::chrono::steady_clock::now() + backoff(p.tries - 1);
    if (fd < 0 || ::sendto(fd, msg, len, 0, reinterpret_cast<sockaddr*>(&ss), sl) !=
                      static_cast<ssize_t>(len)) {
        SP_LOG_DEBUG("notify: %s to %s: %s", text(p.origin).c_str(), p.target.text().c_str(),
                     std::strerror(errno));
        return;
    }
    ++sent_;
}

void Notifier::on_readable(int fd) {
    std::uint8_t buf[512];
    for (;;) {
        sockaddr_storage from;
        socklen_t fl = sizeof from;
        const ssize_t n =
            ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (n < 0) return;
        if (n < 12) continue;
        const std::uint16_t id = load16(buf);
        const std::uint16_t flags = load16(buf + 2);
        if (!(flags & 0x8000) || ((flags >> 11) & 0xf) != kOpNotify) continue;
        const auto peer = common::IpAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&from));
        std::lock_guard lock(mu_);
        auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) {
            return p.id == id && p.tries > 0 && peer && p.target.address == *peer;
        });
        if (it == pending_.end()) continue;  // late, duplicate, or not ours
        const unsigned rc = flags & 0xf;
        if (rc == 0) {
            ++acked_;
            SP_LOG_INFO("notify: %s serial %u acknowledged by %s", text(it->origin).c_str(),
                        it->serial, it->target.text().c_str());
        } else {
            ++failed_;
            SP_LOG_WARN("notify: %s serial %u refused by %s (rcode %u): is dnsd its primary?",
                        text(it->origin).c_str(), it->serial, it->target.text().c_str(), rc);
        }
        pending_.erase(it);
    }
}

void Notifier::run() {
    while (!stopping_) {
        int timeout_ms = -1;
        {
            std::lock_guard lock(mu_);
            const auto now = std::chrono::steady_clock::now();
            for (auto it = pending_.begin(); it != pending_.end();) {
                if (it->next <= now) {
                    if (it->tries >= kMaxTries) {
                        ++failed_;
                        SP_LOG_WARN("notify: %s serial %u: no answer from %s after %d tries",
                                    text(it->origin).c_str(), it->serial, it->target.text().c_str(),
                                    it->tries);
                        it = pending_.erase(it);
                        continue;
                    }
                    send(*it);
                }
                const auto wait =
                    std::chrono::duration_cast<std::chrono::milliseconds>(it->next - now);
                const int ms = static_cast<int>(std::max<long long>(1, wait.count()));
                timeout_ms = timeout_ms < 0 ? ms : std::min(timeout_ms, ms);
                ++it;
            }
        }
        pollfd p[3] = {{wake_fd_, POLLIN, 0}, {fd4_, POLLIN, 0}, {fd6_, POLLIN, 0}};
        const int n = ::poll(p, fd6_ >= 0 ? 3 : 2, timeout_ms);
        if (n <= 0) continue;
        if (p[0].revents) {
            std::uint64_t v;
            while (::read(wake_fd_, &v, sizeof v) > 0) {
            }
        }
        if (p[1].revents) on_readable(fd4_);
        if (fd6_ >= 0 && p[2].revents) on_readable(fd6_);
    }
}

void Notifier::render(std::string& out) const {
    auto metric = [&](const char* name, const char* help, std::uint64_t v) {
        out += std::string("# HELP signpost_dnsd_") + name + " " + help +
               "\n# TYPE signpost_dnsd_" + name + " counter\nsignpost_dnsd_" + name + " " +
               std::to_string(v) + "\n";
    };
    metric("notify_sent_total", "NOTIFY messages sent to secondaries (retries included)", sent_);
    metric("notify_acked_total", "NOTIFYs a secondary acknowledged", acked_);
    metric("notify_failed_total", "NOTIFYs refused by a secondary or unanswered after every try",
           failed_);
}

}  // namespace server
}  // namespace signpost::dnsd
