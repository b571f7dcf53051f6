// Token text for display: valid UTF-8, control characters made visible, long tokens shortened.
#pragma once
#include <string>
#include <string_view>

namespace attnscope::detail {

// (Text for cairo and JSON: attnscope::valid_utf8 in tokenizer.h.)
// What a heatmap axis shows for a token: valid UTF-8 (U+FFFD for bad bytes), "\n" "\t" "\r" and other control
// characters as escapes, an all-space token as open boxes, cut to max_chars code points with an ellipsis.
std::string display_token(std::string_view token, size_t max_chars = 24);
// Escapes for XML/HTML text and attribute values.
std::string xml_escape(std::string_view s);

}  // namespace attnscope::detail
