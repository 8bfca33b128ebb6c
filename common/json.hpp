#pragma once
// Just enough JSON for line protocols: appending values to an output buffer
// without temporary strings, and reading one flat object of scalars (nested
// values are skipped over correctly, not interpreted).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace signpost::common::json {

// Appends `s` as a quoted JSON string (control characters and non-UTF-8-safe
// bytes escaped, so any input can be echoed back in an error line).
void append_string(std::string& out, std::string_view s);
// True when `s` goes into a JSON string as it is (printable ASCII, no '"' or '\\').
bool is_plain(std::string_view s);
void append_uint(std::string& out, std::uint64_t v);
void append_double(std::string& out, double v);

enum class Type { kString, kNumber, kBool, kNull, kObject, kArray };

struct Value {
    Type type = Type::kNull;
    std::string_view raw;  // the value's text as it appears (for numbers, objects, arrays)
    std::string str;       // decoded string (kString)
    bool boolean = false;
};

// Calls `fn(key, value)` for each member of the object in `text`. Returns an
// empty string on success, or what is wrong with the text.
std::string for_each_member(std::string_view text,
                            const std::function<void(std::string_view, const Value&)>& fn);

}  // namespace signpost::common::json
