// Token text for display (see text.h).
#include "viz/text.h"

#include <cstdint>
#include <cstdio>

namespace attnscope::detail {

namespace {
// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid.
size_t utf8_seq_len(std::string_view s, size_t i) {
  const auto c0 = static_cast<unsigned char>(s[i]);
  if (c0 < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c0 & 0xE0) == 0xC0) { n = 2; cp = c0 & 0x1F; }
  else if ((c0 & 0xF0) == 0xE0) { n = 3; cp = c0 & 0x0F; }
  else if ((c0 & 0xF8) == 0xF0) { n = 4; cp = c0 & 0x07; }
  else return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    if ((c & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3F);
  }
  // Reject overlong forms, surrogates and values past U+10FFFF.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  if (cp > 0x10FFFF) return 0;
  return n;
}
}  // namespace

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_seq_len(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string display_token(std::string_view token, size_t max_chars) {
  const std::string clean = sanitize_utf8(token);
  std::string out;
  bool all_space = !clean.empty();
  for (char c : clean)
    if (c != ' ') all_space = false;
  if (all_space) {
    for (size_t i = 0; i < clean.size(); ++i) out += "\xE2\x90\xA3";  // U+2423 open box
  } else {
    for (char c : clean) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '\n') out += "\\n";
      else if (c == '\t') out += "\\t";
      else if (c == '\r') out += "\\r";
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
      if (count == max_chars) { cut = i; break; }
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
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace attnscope::detail
