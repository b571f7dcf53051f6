// Token text for display (see text.h).
#include "viz/text.h"

#include <cstdint>
#include <cstdio>

#include "attnscope/tokenizer.h"

namespace attnscope::detail {

std::string display_token(std::string_view token, size_t max_chars) {
  const std::string clean = valid_utf8(token);
  std::string out;
  bool all_space = !clean.empty();
  for (char c : clean)
    if (c != ' ') all_space = false;
  if (all_space) {
    for (size_t i = 0; i < clean.size(); ++i) out += "\xE2\x90\xA3";  // U+2423 open box
  } else {
    for (char c : clean) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '\n')
        out += "\\n";
      else if (c == '\t')
        out += "\\t";
      else if (c == '\r')
        out += "\\r";
      else if (u < 0x20 || u == 0x7F) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02X", u);
        out += buf;
      } else {
        out += c;
      }
    }
  }
  if (out.empty()) out = "\xE2\x88\x85";  // U+2205: an empty token still gets a visible label
  // Cut by code points, never inside a sequence.
  size_t count = 0, cut = std::string::npos;
  for (size_t i = 0; i < out.size(); ++i) {
    if ((static_cast<unsigned char>(out[i]) & 0xC0) != 0x80) {
      if (count == max_chars) {
        cut = i;
        break;
      }
      ++count;
    }
  }
  if (cut != std::string::npos && max_chars > 0) {
    out.resize(cut);
    out += "\xE2\x80\xA6";  // ellipsis
  }
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace attnscope::detail
