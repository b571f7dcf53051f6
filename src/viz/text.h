// Token text for display: valid UTF-8, control characters made visible, long tokens shortened.
#pragma once
#include <string>
#include <string_view>

namespace attnscope::detail {

// Replaces every invalid UTF-8 sequence by U+FFFD, so cairo and JSON never see bad bytes.
std::string sanitize_utf8(std::string_view s);
// What a heatmap axis shows for a token: sanitized, "\n" "\t" "\r" and other control characters as
// escapes, an all-space token as open boxes, cut to max_chars code points with an ellipsis.
std::string display_token(std::string_view token, size_t max_chars = 24);
// Escapes for XML/HTML text and attribute values.
std::string xml_escape(std::string_view s);

}  // namespace attnscope::detail
