#pragma once
// Files replaced whole: the new content goes to a temporary file beside the
// old one, is synced, then renamed over it and the directory synced, so a
// reader (or a crash) sees the old file or the new one, never half of one.
// The two steps are separate for callers that check the written file before
// it replaces the old (a zone copy, a generated map). Errors name the file
// and the reason.

#include <string>
#include <string_view>

namespace signpost::common {

// `content` to `tmp` (created or truncated, mode 0644), synced; on failure
// `tmp` is removed.
bool write_synced(const std::string& tmp, std::string_view content, std::string& error);
// Renames `tmp` over `path` and syncs the directory; on failure `tmp` is removed.
bool rename_synced(const std::string& tmp, const std::string& path, std::string& error);
// Both, through path.tmp.PID.
bool replace_file(const std::string& path, std::string_view content, std::string& error);
// That temporary name.
std::string temp_name(const std::string& path);

}  // namespace signpost::common
