#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace attnscope::detail {

namespace {
bool stands_for_itself(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct Tables {
  std::array<uint32_t, 256> cp{};
  std::array<std::string, 256> str;
  std::array<int16_t, 512> back{};  // every mapped code point is below 0x200
  Tables() {
    back.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      cp[b] = stands_for_itself(b) ? static_cast<uint32_t>(b) : next++;
      utf8_append(str[b], cp[b]);
      back[cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const Tables& tables() {
  static const Tables t;
  return t;
}
}  // namespace

uint32_t byte_to_codepoint(uint8_t b) { return tables().cp[b]; }
const std::array<std::string, 256>& byte_level_strings() { return tables().str; }

int codepoint_to_byte(uint32_t cp) { return cp < 512 ? tables().back[cp] : -1; }

std::string byte_level_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_char_len(text, i);
    if (n == 0) {
      out += text[i];
      ++i;
      continue;
    }
    const int b = codepoint_to_byte(utf8_decode(text, i, n));
    if (b >= 0)
      out += static_cast<char>(b);
    else
      out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string byte_level_encode(std::string_view bytes) {
  const auto& s = byte_level_strings();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += s[static_cast<unsigned char>(c)];
  return out;
}

}  // namespace attnscope::detail
