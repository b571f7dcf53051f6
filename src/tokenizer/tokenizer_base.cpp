#include "tokenizer/tokenizer_base.h"

#include "attnscope/error.h"
#include "attnscope/warnings.h"
#include "tokenizer/utf8.h"

namespace attnscope::detail {

int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int v = 0;
  for (size_t k = 3; k < 5; ++k) {
    const char c = text[k];
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else
      return -1;
    v = v * 16 + d;
  }
  return v;
}

std::vector<int32_t> TokenizerBase::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  std::vector<Fragment> fragments;
  if (specials_.empty()) {
    if (!text.empty()) fragments.push_back({0, text.size(), -1});
  } else {
    specials_.split(text, parse_special, fragments);
  }
  bool after_special = true;
  bool first = true;
  for (const Fragment& f : fragments) {
    if (f.id >= 0) {
      out.push_back(f.id);
      after_special = true;
    } else {
      encode_fragment(text.substr(f.begin, f.end - f.begin), first, after_special, out);
      after_special = false;
    }
    first = false;
  }
  // "<s>Once upon" with BOS prepended gives BOS twice: keep the ids (they are what the model
  // would see) but say so, since first-token scores and exclude_bos assume one BOS at 0.
  if (add_bos && out.size() >= 2 && out[0] == vocab_.bos && out[1] == vocab_.bos)
    warn("tokenizer.double_bos", "the text starts with the BOS token " + utf8_display(vocab_.tokens[vocab_.bos]) +
                                     " and BOS was prepended as well: the ids start with BOS twice (kept as "
                                     "the model would see them; encode without BOS, e.g. --no-bos, if one "
                                     "was meant)");
  return out;
}

std::string TokenizerBase::decode(const std::vector<int32_t>& ids) const {
  std::string out;
  bool first = true;
  bool first_was_text = false;
  for (int32_t id : ids) {
    vocab_.check_id(id);
    if (vocab_.types[id] == TokenType::Control) continue;
    if (first) first_was_text = vocab_.types[id] != TokenType::UserDefined;
    first = false;
    out += token_bytes(id);
  }
  finish_decode(out, first_was_text);
  return out;
}

const std::string& TokenizerBase::token_text(int32_t id) const {
  vocab_.check_id(id);
  return vocab_.tokens[id];
}

TokenType TokenizerBase::token_type(int32_t id) const {
  vocab_.check_id(id);
  return vocab_.types[id];
}

float TokenizerBase::token_score(int32_t id) const {
  vocab_.check_id(id);
  return vocab_.scores.empty() ? 0.0f : vocab_.scores[id];
}

std::string TokenizerBase::token_to_str(int32_t id) const {
  vocab_.check_id(id);
  const TokenType t = vocab_.types[id];
  if (t == TokenType::Control || t == TokenType::Unknown) return utf8_display(vocab_.tokens[id]);
  return utf8_display(token_bytes(id));
}

void TokenizerBase::register_specials_from_types() {
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    const TokenType t = vocab_.types[id];
    if (t == TokenType::Control || t == TokenType::Unknown) {
      specials_.add({vocab_.tokens[id], id, true, false, false});
    } else if (t == TokenType::UserDefined) {
      specials_.add({vocab_.tokens[id], id, false, false, false});
    }
  }
}

}  // namespace attnscope::detail
