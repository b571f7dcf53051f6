#include "tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "attnscope/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace attnscope::detail {

namespace {

constexpr size_t kCacheMaxPiece = 128;       // longer pieces are rare; not worth caching
constexpr size_t kCacheMaxEntries = 200000;  // bound memory; the cache is cleared when full

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (;;) {
    const size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  if (pos == 0) return;
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

}  // namespace

BpeTokenizer::BpeTokenizer(Vocab vocab, const std::vector<MergeRule>& merges, BpeOptions options)
    : TokenizerBase(std::move(vocab)), opt_(std::move(options)) {
  std::vector<std::pair<uint64_t, Merge>> entries;
  entries.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    const int32_t ia = vocab_.find(a);
    const int32_t ib = vocab_.find(b);
    const int32_t im = vocab_.find(a + b);
    if (ia < 0 || ib < 0 || im < 0) {
      const std::string& missing = ia < 0 ? a : ib < 0 ? b : a + b;
      fail(ErrorKind::Format, vocab_.source + ": merge " + std::to_string(r) + " '" + a + " " + b + "' names token '" +
                                  utf8_display(missing) + "' which is not in the vocabulary");
    }
    entries.emplace_back(pair_key(ia, ib), Merge{static_cast<int32_t>(r), im});
  }
  build_merge_table(entries);
  const auto& bl = byte_level_strings();
  all_byte_tokens_ = true;
  for (int b = 0; b < 256; ++b) {
    byte_symbol_[b] = vocab_.find(bl[b]);
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    byte_token_[b] = vocab_.find(name);
    if (byte_token_[b] < 0) all_byte_tokens_ = false;
  }
  if (!opt_.byte_level && opt_.byte_fallback) {
    for (int b = 0; b < 256; ++b) {
      if (byte_token_[b] >= 0) vocab_.types[byte_token_[b]] = TokenType::Byte;
    }
  }
}

void BpeTokenizer::build_merge_table(const std::vector<std::pair<uint64_t, Merge>>& entries) {
  size_t cap = 16;
  int bits = 4;
  while (cap < entries.size() * 2 + 1) {
    cap *= 2;
    ++bits;
  }
  merge_table_.assign(cap, MergeSlot{});
  merge_mask_ = cap - 1;
  merge_shift_ = 64 - bits;
  for (const auto& [key, m] : entries) {
    for (size_t i = (key * 0x9E3779B97F4A7C15ull) >> merge_shift_;; i = (i + 1) & merge_mask_) {
      MergeSlot& slot = merge_table_[i];
      if (slot.key == key) break;  // a repeated rule: the first (lowest rank) wins
      if (slot.key == kEmptyKey) {
        slot.key = key;
        slot.merge = m;
        break;
      }
    }
  }
}

std::string BpeTokenizer::normalize(std::string_view text, bool first) const {
  std::string s;
  if (opt_.nfkc)
    s = utf8_nfkc(text);
  else if (opt_.nfc)
    s = utf8_nfc(text);
  else
    s.assign(text);
  if (!opt_.prepend.empty() && !s.empty()) s = opt_.prepend + s;
  for (const auto& [from, to] : opt_.replace) replace_all(s, from, to);
  if (!opt_.metaspace.empty()) {
    replace_all(s, " ", opt_.metaspace);
    const bool want = opt_.prepend_scheme == "always" || (opt_.prepend_scheme == "first" && first);
    if (want && !s.empty() && !s.starts_with(opt_.metaspace)) s = opt_.metaspace + s;
  }
  if (opt_.byte_level_add_prefix_space && !s.empty() && s[0] != ' ') s = " " + s;
  return s;
}

void BpeTokenizer::encode_fragment(std::string_view text, bool first, bool after_special,
                                   std::vector<int32_t>& out) const {
  (void)after_special;
  const std::string norm = normalize(text, first);
  std::vector<std::pair<size_t, size_t>> pieces;
  if (!opt_.metaspace.empty() && opt_.metaspace_split) {
    // Metaspace split: a new piece starts at every metaspace (it stays attached to what follows).
    size_t start = 0;
    for (size_t pos = norm.find(opt_.metaspace, 1); pos != std::string::npos;
         pos = norm.find(opt_.metaspace, pos + 1)) {
      pieces.emplace_back(start, pos);
      start = pos;
    }
    if (norm.size() > start) pieces.emplace_back(start, norm.size());
    if (!opt_.pre.empty()) {
      std::vector<std::pair<size_t, size_t>> all, sub;
      for (auto [b, e] : pieces) {
        opt_.pre.split(std::string_view(norm).substr(b, e - b), sub);
        for (auto [sb, se] : sub) all.emplace_back(b + sb, b + se);
      }
      pieces.swap(all);
    }
  } else {
    opt_.pre.split(norm, pieces);
  }
  for (auto [b, e] : pieces) encode_piece(std::string_view(norm).substr(b, e - b), out);
}

void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int32_t>& out) const {
  const bool cacheable = piece.size() <= kCacheMaxPiece;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(piece);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  int32_t whole = -1;
  if (opt_.ignore_merges) {
    whole = opt_.byte_level ? vocab_.find(byte_level_encode(piece)) : vocab_.find(piece);
  }
  if (whole >= 0)
    out.push_back(whole);
  else
    merge_piece(piece, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kCacheMaxEntries) cache_.clear();
    cache_.emplace(std::string(piece), std::vector<int32_t>(out.begin() + start, out.end()));
  }
}

void BpeTokenizer::merge_piece(std::string_view piece, std::vector<int32_t>& out) const {
  struct Sym {
    int32_t id;
    int32_t prev, next;
    uint32_t begin, len;  // bytes of the piece this symbol covers; len 0 = merged away
  };
  // A candidate is (rank << 32 | left index): one integer, ordered by rank then position.
  // Which pair it meant needs no storing: a merge rule has one rank, so the candidate is still
  // valid exactly when the pair now at `left` has that rank.
  using Cand = uint64_t;
  auto worse = [](Cand a, Cand b) { return a > b; };
  thread_local std::vector<Sym> syms;
  thread_local std::vector<Cand> heap;
  syms.clear();
  heap.clear();

  if (opt_.byte_level) {
    for (size_t i = 0; i < piece.size(); ++i) {
      const int32_t n = static_cast<int32_t>(syms.size());
      syms.push_back({byte_symbol_[static_cast<unsigned char>(piece[i])], n - 1, n + 1, static_cast<uint32_t>(i), 1});
    }
  } else {
    for (size_t i = 0; i < piece.size();) {
      const size_t len = utf8_unit_len(piece, i);
      const int32_t n = static_cast<int32_t>(syms.size());
      int32_t id = vocab_.find(piece.substr(i, len));
      if (id >= 0 && vocab_.types[id] == TokenType::Byte) id = -1;  // bytes only via fallback
      syms.push_back({id, n - 1, n + 1, static_cast<uint32_t>(i), static_cast<uint32_t>(len)});
      i += len;
    }
  }
  if (syms.empty()) return;
  syms.back().next = -1;

  // The merge for the pair starting at symbol l, or nullptr.
  auto merge_at = [&](int32_t l) -> const Merge* {
    const int32_t r = syms[l].next;
    if (r < 0 || syms[l].id < 0 || syms[r].id < 0) return nullptr;
    return find_merge(syms[l].id, syms[r].id);
  };
  auto make = [](const Merge* m, int32_t l) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(m->rank)) << 32) | static_cast<uint32_t>(l);
  };
  auto try_add = [&](int32_t l) {
    if (l < 0) return;
    if (const Merge* m = merge_at(l)) {
      heap.push_back(make(m, l));
      std::push_heap(heap.begin(), heap.end(), worse);
    }
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) {
    if (const Merge* m = merge_at(i)) heap.push_back(make(m, i));
  }
  std::make_heap(heap.begin(), heap.end(), worse);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), worse);
    const Cand c = heap.back();
    heap.pop_back();
    const auto li = static_cast<int32_t>(c & 0xFFFFFFFFu);
    Sym& left = syms[li];
    if (left.len == 0) continue;  // merged into its left neighbour since
    const Merge* m = merge_at(li);
    if (!m || static_cast<uint32_t>(m->rank) != (c >> 32)) continue;  // the pair changed
    const int32_t r = left.next;
    left.id = m->id;
    left.len += syms[r].len;
    syms[r].len = 0;
    left.next = syms[r].next;
    if (left.next >= 0) syms[left.next].prev = li;
    try_add(left.prev);
    try_add(li);
  }

  bool last_unk = false;
  for (int32_t i = 0; i >= 0; i = syms[i].next) {
    const Sym& s = syms[i];
    if (s.id >= 0) {
      out.push_back(s.id);
      last_unk = false;
      continue;
    }
    bool done = false;
    if (!opt_.byte_level && opt_.byte_fallback) {
      bool all = true;
      for (uint32_t k = 0; k < s.len; ++k) {
        if (byte_token_[static_cast<unsigned char>(piece[s.begin + k])] < 0) all = false;
      }
      if (all) {
        for (uint32_t k = 0; k < s.len; ++k) {
          out.push_back(byte_token_[static_cast<unsigned char>(piece[s.begin + k])]);
        }
        done = true;
        last_unk = false;
      }
    }
    if (!done && vocab_.unk >= 0) {
      if (!(opt_.fuse_unk && last_unk)) out.push_back(vocab_.unk);
      last_unk = true;
    }
    // With neither byte tokens nor an unk token the character cannot be represented: dropped,
    // as the reference implementation does.
  }
}

std::string BpeTokenizer::token_bytes(int32_t id) const {
  const std::string& text = vocab_.tokens[id];
  const TokenType t = vocab_.types[id];
  if (t == TokenType::Byte) {
    const int b = parse_byte_token(text);
    if (b >= 0) return std::string(1, static_cast<char>(b));
  }
  if (t == TokenType::Control || t == TokenType::UserDefined || t == TokenType::Unknown) {
    return text;  // added tokens are stored as plain text
  }
  if (opt_.byte_level) return byte_level_decode(text);
  std::string s = text;
  for (const auto& [from, to] : opt_.decode_replace) replace_all(s, from, to);
  return s;
}

void BpeTokenizer::finish_decode(std::string& text, bool first_was_text) const {
  (void)first_was_text;
  int n = 0;
  while (n < opt_.strip_left && static_cast<size_t>(n) < text.size() && text[n] == ' ') ++n;
  text.erase(0, n);
}

}  // namespace attnscope::detail
