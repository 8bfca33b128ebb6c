#include "dnsd/health/admin_state.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>

#include "common/atomic_file.hpp"

namespace signpost::dnsd {
inline namespace health {

namespace {

// Splits a line into whitespace-separated words; the rest after `max` words
// stays whole in the last one.
std::vector<std::string_view> words(std::string_view line, std::size_t max) {
    std::vector<std::string_view> w;
    std::size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
        if (i >= line.size()) break;
        if (w.size() + 1 == max) {
            std::string_view rest = line.substr(i);
            while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t'))
                rest.remove_suffix(1);
            w.push_back(rest);
            break;
        }
        std::size_t j = i;
        while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
        w.push_back(line.substr(i, j - i));
        i = j;
    }
    return w;
}

template <typename F>
void each_line(std::string_view text, F&& f) {
    int number = 0;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
        ++number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        std::size_t k = 0;
        while (k < line.size() && (line[k] == ' ' || line[k] == '\t')) ++k;
        if (k == line.size() || line[k] == '#') continue;
        f(number, line);
    }
}

template <typename T>
bool number(std::string_view s, T& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

std::string quoted(std::string_view s) {
    return "\"" + std::string(s.substr(0, 80)) + (s.size() > 80 ? "...\"" : "\"");
}

}  // namespace

const char* admin_mode_name(AdminMode m) {
    switch (m) {
        case AdminMode::kAuto:
            return "auto";
        case AdminMode::kUp:
            return "up";
        case AdminMode::kDown:
            return "down";
        case AdminMode::kDrain:
            return "drain";
    }
    return "?";
}

std::optional<AdminMode> parse_admin_mode(std::string_view s) {
    for (auto m : {AdminMode::kAuto, AdminMode::kUp, AdminMode::kDown, AdminMode::kDrain})
        if (s == admin_mode_name(m)) return m;
    return std::nullopt;
}

double drain_keep(const AdminOverride& o, std::int64_t now_ms) {
    if (o.mode != AdminMode::kDrain) return 1.0;
    if (o.drain_s == 0) return 0.0;
    const double f = 1.0 - static_cast<double>(now_ms - o.since_ms) / (o.drain_s * 1000.0);
    return f < 0 ? 0.0 : f > 1 ? 1.0 : f;
}

std::string format_admin_state(const AdminOverrides& overrides) {
    std::string out =
        "# signpost dnsd admin state: written by dnsd (dnsdctl node NAME up|down|drain|auto)\n"
        "# NAME MODE SINCE_UNIX_MS [DRAIN_SECONDS]\n";
    for (const auto& [name, o] : overrides) {
        if (o.mode == AdminMode::kAuto) continue;
        out += name + " " + admin_mode_name(o.mode) + " " + std::to_string(o.since_ms);
        if (o.mode == AdminMode::kDrain) out += " " + std::to_string(o.drain_s);
        out += "\n";
    }
    return out;
}

AdminOverrides parse_admin_state(std::string_view text, const std::string& file,
                                 std::vector<std::string>& warnings) {
    AdminOverrides out;
    each_line(text, [&](int n, std::string_view line) {
        const auto w = words(line, 5);
        auto bad = [&](const std::string& why) {
            warnings.push_back(file + ":" + std::to_string(n) + ": " + why + " in " + quoted(line) +
                               "; line ignored");
        };
        if (w.size() < 3 || w.size() > 4)
            return bad("expected NAME MODE SINCE_UNIX_MS [DRAIN_SECONDS]");
        AdminOverride o;
        const auto mode = parse_admin_mode(w[1]);
        if (!mode || *mode == AdminMode::kAuto)
            return bad("mode " + quoted(w[1]) + " is not up, down or drain");
        o.mode = *mode;
        if (!number(w[2], o.since_ms)) return bad("since " + quoted(w[2]) + " is not a number");
        if (o.mode == AdminMode::kDrain) {
            if (w.size() != 4 || !number(w[3], o.drain_s))
                return bad("drain needs its ramp length in seconds");
        } else if (w.size() != 3) {
            return bad("only drain takes a fourth field");
        }
        out[std::string(w[0])] = o;
    });
    return out;
}

bool parse_external(std::string_view text, const std::string& file, std::vector<ExternalMark>& out,
                    std::string& error) {
    std::vector<ExternalMark> marks;
    bool ok = true;
    each_line(text, [&](int n, std::string_view line) {
        if (!ok) return;
        auto bad = [&](const std::string& why) {
            error = file + ":" + std::to_string(n) + ": " + why + " in " + quoted(line);
            ok = false;
        };
        const auto w = words(line, 3);
        // NAME down|up [REASON] or NAME ADDRESS down|up [REASON]
        if (w.size() < 2) return bad("expected NAME [ADDRESS] down|up [REASON]");
        ExternalMark m;
        m.node = std::string(w[0]);
        m.line = n;
        std::string_view state = w[1];
        std::string_view reason = w.size() > 2 ? w[2] : std::string_view{};
        if (state != "down" && state != "up") {
            auto addr = common::IpAddress::parse(std::string(w[1]));
            if (!addr) return bad(quoted(w[1]) + " is neither down, up nor an address");
            m.address = addr;
            const auto rest = words(reason, 2);
            if (rest.empty()) return bad("expected down or up after the address");
            state = rest[0];
            reason = rest.size() > 1 ? rest[1] : std::string_view{};
            if (state != "down" && state != "up")
                return bad("state " + quoted(state) + " is neither down nor up");
        }
        if (state == "up") return;
        m.reason = reason.empty() ? "marked down in " + file : std::string(reason);
        marks.push_back(std::move(m));
    });
    if (ok) out = std::move(marks);
    return ok;
}

bool read_small_file(const std::string& path, std::string& out, std::string& error,
                     std::size_t limit) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = path + ": " + std::strerror(errno);
        return false;
    }
    out.clear();
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = path + ": " + std::strerror(errno);
            ::close(fd);
            return false;
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
        if (out.size() > limit) {
            error = path + ": larger than " + std::to_string(limit) + " bytes";
            ::close(fd);
            return false;
        }
    }
    ::close(fd);
    return true;
}

bool write_file_atomically(const std::string& path, const std::string& content,
                           std::string& error) {
    return common::replace_file(path, content, error);
}

}  // namespace health
}  // namespace signpost::dnsd
