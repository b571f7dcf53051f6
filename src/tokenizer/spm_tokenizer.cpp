#include "tokenizer/spm_tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "attnscope/error.h"
#include "tokenizer/utf8.h"

namespace attnscope::detail {

namespace {
const std::string kSpace = "\xE2\x96\x81";  // U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space
}

SpmTokenizer::SpmTokenizer(Vocab vocab, bool add_space_prefix)
    : TokenizerBase(std::move(vocab)), add_space_prefix_(add_space_prefix) {
  if (vocab_.scores.size() != vocab_.tokens.size()) {
    fail(ErrorKind::Format, vocab_.source + ": SentencePiece vocabulary has " + std::to_string(vocab_.tokens.size()) +
                                " tokens but " + std::to_string(vocab_.scores.size()) + " scores");
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_token_[b] = vocab_.find(name);
  }
}

int32_t SpmTokenizer::mergeable(std::string_view text) const {
  const int32_t id = vocab_.find(text);
  if (id < 0) return -1;
  const TokenType t = vocab_.types[id];
  return (t == TokenType::Normal || t == TokenType::UserDefined || t == TokenType::Undefined) ? id : -1;
}

void SpmTokenizer::encode_fragment(std::string_view text, bool first, bool after_special,
                                   std::vector<int32_t>& out) const {
  (void)first;
  std::string s;
  s.reserve(text.size() + 8);
  if (add_space_prefix_ && after_special) s += kSpace;
  for (char c : text) {
    if (c == ' ')
      s += kSpace;
    else
      s += c;
  }

  struct Sym {
    int32_t prev, next;
    uint32_t begin, len;  // len 0: merged into its left neighbour
  };
  struct Cand {
    float score;
    int32_t left, right;
    uint32_t size;
  };
  auto worse = [](const Cand& a, const Cand& b) { return a.score != b.score ? a.score < b.score : a.left > b.left; };
  std::vector<Sym> syms;
  std::vector<Cand> heap;
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_unit_len(s, i);
    const int32_t n = static_cast<int32_t>(syms.size());
    syms.push_back({n - 1, n + 1, static_cast<uint32_t>(i), static_cast<uint32_t>(len)});
    i += len;
  }
  if (syms.empty()) return;
  syms.back().next = -1;

  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const std::string_view merged(s.data() + syms[l].begin, syms[l].len + syms[r].len);
    const int32_t id = mergeable(merged);
    if (id < 0) return;
    heap.push_back({vocab_.scores[id], l, r, static_cast<uint32_t>(merged.size())});
    std::push_heap(heap.begin(), heap.end(), worse);
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) try_add(i, i + 1);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    const Cand c = heap.back();
    heap.pop_back();
    Sym& left = syms[c.left];
    Sym& right = syms[c.right];
    // Stale when either side was merged since the candidate was made.
    if (left.len == 0 || right.len == 0 || left.len + right.len != c.size) continue;
    left.len += right.len;
    right.len = 0;
    left.next = right.next;
    if (right.next >= 0) syms[right.next].prev = c.left;
    try_add(left.prev, c.left);
    try_add(c.left, left.next);
  }

  for (int32_t i = 0; i >= 0; i = syms[i].next) {
    const std::string_view piece(s.data() + syms[i].begin, syms[i].len);
    const int32_t id = mergeable(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Only a single character can be missing (merges only ever form vocabulary pieces).
    for (char c : piece) {
      const int32_t b = byte_token_[static_cast<unsigned char>(c)];
      if (b >= 0)
        out.push_back(b);
      else if (vocab_.unk >= 0) {
        out.push_back(vocab_.unk);
        break;
      }
    }
  }
}

std::string SpmTokenizer::token_bytes(int32_t id) const {
  const std::string& text = vocab_.tokens[id];
  if (vocab_.types[id] == TokenType::Byte) {
    const int b = parse_byte_token(text);
    if (b >= 0) return std::string(1, static_cast<char>(b));
  }
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, kSpace.size(), kSpace) == 0) {
      out += ' ';
      i += kSpace.size() - 1;
    } else {
      out += text[i];
    }
  }
  return out;
}

void SpmTokenizer::finish_decode(std::string& text, bool first_was_text) const {
  if (add_space_prefix_ && first_was_text && !text.empty() && text[0] == ' ') text.erase(0, 1);
}

}  // namespace attnscope::detail
