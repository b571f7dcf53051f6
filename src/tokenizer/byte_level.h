// GPT-2's byte-to-unicode table: byte-level BPE vocabularies spell every byte as one printable
// code point ('!'..'~', '¡'..'¬', '®'..'ÿ' stand for themselves; the other 68 bytes, space
// and control characters among them, become U+0100 onwards, so a space is 'Ġ').
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace attnscope::detail {

// Code point that stands for byte b.
uint32_t byte_to_codepoint(uint8_t b);
// UTF-8 text of that code point, for all 256 bytes.
const std::array<std::string, 256>& byte_level_strings();
// Byte a code point stands for, or -1 if it is not one of the 256.
int codepoint_to_byte(uint32_t cp);
// Bytes a byte-level string stands for; code points outside the table are copied as UTF-8.
std::string byte_level_decode(std::string_view text);
// Byte-level spelling of raw bytes.
std::string byte_level_encode(std::string_view bytes);

}  // namespace attnscope::detail
