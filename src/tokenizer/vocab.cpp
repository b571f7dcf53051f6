#include "tokenizer/vocab.h"

#include <algorithm>

#include "attnscope/error.h"

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
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
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
    size_t raw_end = i;
    if (hit->lstrip) {
      while (raw_end > raw_start && is_space(text[raw_end - 1])) --raw_end;
    }
    if (raw_end > raw_start) out.push_back({raw_start, raw_end, -1});
    out.push_back({i, i + hit->text.size(), hit->id});
    i += hit->text.size();
    if (hit->rstrip) {
      while (i < text.size() && is_space(text[i])) ++i;
    }
    raw_start = i;
  }
  if (text.size() > raw_start) out.push_back({raw_start, text.size(), -1});
}

}  // namespace attnscope::detail
