#include "tokenizer/utf8.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace attnscope::detail {

size_t utf8_char_len(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t n;
  uint32_t min_cp;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2;
    min_cp = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3;
    min_cp = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4;
    min_cp = 0x10000;
  } else
    return 0;
  if (i + n > s.size()) return 0;
  uint32_t cp = b0 & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

uint32_t utf8_decode(std::string_view s, size_t i, size_t n) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (n == 1) return b0;
  uint32_t cp = b0 & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

bool utf8_valid(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_char_len(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

namespace {
// Bytes of the longest prefix of s[i..] that could still begin a well-formed character (the
// Unicode "maximal subpart"): 0 when s[i] cannot start one at all.
size_t maximal_subpart(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t n;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF)
    n = 2;
  else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else
    return 0;
  size_t k = 1;
  for (; k < n && i + k < s.size(); ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) break;
  }
  return k;
}
}  // namespace

std::string utf8_replace_invalid(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_char_len(s, i);
    if (n != 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD for the maximal subpart (at least one byte)
      i += std::max<size_t>(1, maximal_subpart(s, i));
    }
  }
  return out;
}

std::string utf8_display(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_char_len(s, i);
    if (n == 0) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "<0x%02X>", static_cast<unsigned char>(s[i]));
      out += buf;
      i += 1;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

namespace {

// Normalises one well-formed run with the given utf8proc options.
void normalize_run(std::string_view run, int options, std::string& out) {
  if (run.empty()) return;
  utf8proc_uint8_t* result = nullptr;
  utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(run.data()), static_cast<utf8proc_ssize_t>(run.size()),
                   &result, static_cast<utf8proc_option_t>(options));
  if (n < 0) {
    out.append(run);  // utf8proc refused (should not happen for a well-formed run): keep as is
  } else {
    out.append(reinterpret_cast<const char*>(result), static_cast<size_t>(n));
  }
  std::free(result);
}

std::string normalize(std::string_view s, int options) {
  // ASCII is already in every normal form: skip the (comparatively slow) library call.
  bool ascii = true;
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return std::string(s);
  std::string out;
  out.reserve(s.size());
  size_t run_start = 0;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_char_len(s, i);
    if (n == 0) {
      normalize_run(s.substr(run_start, i - run_start), options, out);
      out += s[i];
      i += 1;
      run_start = i;
    } else {
      i += n;
    }
  }
  normalize_run(s.substr(run_start), options, out);
  return out;
}

}  // namespace

std::string utf8_nfc(std::string_view s) { return normalize(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE); }
std::string utf8_nfkc(std::string_view s) { return normalize(s, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT); }

}  // namespace attnscope::detail
