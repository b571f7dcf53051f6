#include "tokenizer/vocab.h"

#include <utf8proc.h>

#include <algorithm>

#include "attnscope/error.h"
#include "tokenizer/utf8.h"

namespace attnscope::detail {

void Vocab::index() {
  ids.clear();
  ids.reserve(tokens.size() * 2);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (!tokens[i].empty()) ids.emplace(tokens[i], static_cast<int32_t>(i));
  }
  if (types.size() < tokens.size()) types.resize(tokens.size(), TokenType::Normal);
}

void Vocab::check_id(int32_t id) const {
  if (id < 0 || id >= size()) {
    fail(ErrorKind::InvalidArgument,
         "token id " + std::to_string(id) + " is outside the vocabulary (size " + std::to_string(size()) + ")");
  }
}

void SpecialMatcher::add(SpecialToken token) {
  if (token.text.empty()) return;
  const auto first = static_cast<unsigned char>(token.text[0]);
  tokens_.push_back(std::move(token));
  auto& bucket = by_first_byte_[first];
  bucket.push_back(static_cast<uint32_t>(tokens_.size() - 1));
  std::stable_sort(bucket.begin(), bucket.end(),
                   [&](uint32_t a, uint32_t b) { return tokens_[a].text.size() > tokens_[b].text.size(); });
}

namespace {

// Unicode's White_Space property (PropList.txt, 25 code points). Hugging Face tokenizers strips
// with the Rust regexes \s*$ and ^\s* (added_vocabulary.rs), whose \s is exactly this property in
// the regex crate's default Unicode mode, so U+00A0, U+2009, U+3000 and the others are absorbed by
// lstrip/rstrip too, not only ASCII (transformers #33371).
bool is_white_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Length of the White_Space character at text[i] that ends by `end`, or 0 if there is none.
size_t white_space_len(std::string_view text, size_t i, size_t end) {
  if (i >= end) return 0;
  const size_t n = utf8_char_len(text, i);
  return n != 0 && i + n <= end && is_white_space(utf8_decode(text, i, n)) ? n : 0;
}

// `end` moved back over the White_Space characters that end text[start, end).
size_t strip_right(std::string_view text, size_t start, size_t end) {
  size_t kept = start;  // just after the last character that is not White_Space
  for (size_t j = start; j < end;) {
    const size_t n = white_space_len(text, j, end);
    j += n != 0 ? n : std::min(utf8_unit_len(text, j), end - j);
    if (n == 0) kept = j;
  }
  return kept;
}

// Rust regex's Unicode \w, which tokenizers' single_word looks for on both sides of an added token
// (regex crate: \p{Alphabetic} + \p{M} + \d + \p{Pc} + \p{Join_Control}). Alphabetic is the
// letters (L*), letter numbers (Nl) and Other_Alphabetic, whose code points outside \p{M} are the
// circled and squared Latin letters listed here.
bool is_word_char(uint32_t cp) {
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      break;
  }
  return cp == 0x200C || cp == 0x200D || (cp >= 0x24B6 && cp <= 0x24E9) || (cp >= 0x1F130 && cp <= 0x1F149) ||
         (cp >= 0x1F150 && cp <= 0x1F169) || (cp >= 0x1F170 && cp <= 0x1F189);
}

// Whether a word character ends text[0, i) / starts text[i, ...) (a malformed byte is none).
bool word_before(std::string_view text, size_t i) {
  for (size_t n = 1; n <= 4 && n <= i; ++n)
    if (utf8_char_len(text, i - n) == n) return is_word_char(utf8_decode(text, i - n, n));
  return false;
}
bool word_after(std::string_view text, size_t i) {
  if (i >= text.size()) return false;
  const size_t n = utf8_char_len(text, i);
  return n != 0 && is_word_char(utf8_decode(text, i, n));
}

}  // namespace

void SpecialMatcher::split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const {
  out.clear();
  size_t raw_start = 0;
  size_t i = 0;
  while (i < text.size()) {
    const auto& bucket = by_first_byte_[static_cast<unsigned char>(text[i])];
    const SpecialToken* hit = nullptr;
    for (uint32_t k : bucket) {
      const SpecialToken& t = tokens_[k];
      if (t.special && !parse_special) continue;
      if (text.compare(i, t.text.size(), t.text) == 0) {
        hit = &t;
        break;
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    if (hit->single_word && (word_before(text, i) || word_after(text, i + hit->text.size()))) {
      // tokenizers drops this match and goes on searching after it: its text stays raw.
      i += hit->text.size();
      continue;
    }
    size_t raw_end = i;
    if (hit->lstrip) raw_end = strip_right(text, raw_start, raw_end);
    if (raw_end > raw_start) out.push_back({raw_start, raw_end, -1});
    out.push_back({i, i + hit->text.size(), hit->id});
    i += hit->text.size();
    if (hit->rstrip)
      while (const size_t n = white_space_len(text, i, text.size())) i += n;
    raw_start = i;
  }
  if (text.size() > raw_start) out.push_back({raw_start, text.size(), -1});
}

}  // namespace attnscope::detail
