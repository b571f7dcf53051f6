// UTF-8 helpers shared by the tokenizers: decoding one character (with invalid bytes kept as
// single-byte units, so that nothing is ever lost), encoding a code point, validity checks and a
// display form that never emits invalid UTF-8.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnscope::detail {

// Length in bytes of the well-formed UTF-8 character starting at s[i], or 0 if the bytes there
// are not a well-formed character (overlong forms, surrogates, > U+10FFFF and truncated sequences
// all count as malformed). i must be < s.size().
size_t utf8_char_len(std::string_view s, size_t i);

// Length of the unit starting at s[i]: the character length, or 1 for a malformed byte.
inline size_t utf8_unit_len(std::string_view s, size_t i) {
  size_t n = utf8_char_len(s, i);
  return n == 0 ? 1 : n;
}

// Code point of the well-formed character of length n at s[i].
uint32_t utf8_decode(std::string_view s, size_t i, size_t n);

// Appends the UTF-8 encoding of code point cp (< 0x110000) to out.
void utf8_append(std::string& out, uint32_t cp);

bool utf8_valid(std::string_view s);

// `s` with each malformed sequence replaced by U+FFFD, one per maximal subpart as Unicode
// recommends (what Python's bytes.decode("utf-8", "replace") and Hugging Face decoding do).
std::string utf8_replace_invalid(std::string_view s);

// `s` with every malformed byte written as "<0xAB>"; well-formed characters are kept.
std::string utf8_display(std::string_view s);

// NFC normal form via utf8proc. Malformed input is normalised run by run, malformed bytes kept.
std::string utf8_nfc(std::string_view s);
std::string utf8_nfkc(std::string_view s);

}  // namespace attnscope::detail
