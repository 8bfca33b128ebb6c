#pragma once
// Splits a byte stream into request lines with a bounded line length: a line
// longer than `max_line` is reported once (with its first bytes) and the rest
// of it, up to its newline, is skipped. Used by every line protocol server
// (geoipd, control sockets), and fuzzed.

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace signpost::common {

class LineFramer {
  public:
    explicit LineFramer(std::size_t max_line) : max_line_(max_line) {}

    // Calls on_line(line) for each complete line (without '\n') and
    // on_overlong(head) once for each line that exceeded the limit.
    template <class OnLine, class OnOverlong>
    void feed(std::string_view in, OnLine&& on_line, OnOverlong&& on_overlong) {
        while (!in.empty()) {
            const auto nl = in.find('\n');
            if (discarding_) {
                if (nl == std::string_view::npos) return;
                discarding_ = false;
                in.remove_prefix(nl + 1);
                continue;
            }
            if (nl == std::string_view::npos) {
                if (partial_.size() + in.size() > max_line_) {
                    partial_.append(in.substr(0, kOverlongHead));
                    on_overlong(std::string_view(partial_).substr(0, kOverlongHead));
                    partial_.clear();
                    discarding_ = true;
                } else {
                    partial_.append(in);
                }
                return;
            }
            if (partial_.size() + nl > max_line_) {
                partial_.append(in.substr(0, std::min(nl, kOverlongHead)));
                on_overlong(std::string_view(partial_).substr(0, kOverlongHead));
                partial_.clear();
            } else if (!partial_.empty()) {
                partial_.append(in.substr(0, nl));
                on_line(std::string_view(partial_));
                partial_.clear();
            } else {
                on_line(in.substr(0, nl));
            }
            in.remove_prefix(nl + 1);
        }
    }

    // At end of stream: a last line without its newline still counts.
    template <class OnLine>
    void finish(OnLine&& on_line) {
        if (!partial_.empty() && !discarding_) on_line(std::string_view(partial_));
        partial_.clear();
        discarding_ = false;
    }

    std::size_t buffered() const { return partial_.size(); }

  private:
    // How much of an overlong line is echoed in the error: enough to recognise it.
    static constexpr std::size_t kOverlongHead = 64;
    std::size_t max_line_;
    std::string partial_;
    bool discarding_ = false;
};

}  // namespace signpost::common
