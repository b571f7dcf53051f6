// The data every tokenizer kind shares: the vocabulary with its token types and scores, the
// special ids and flags, and the matcher that finds added/special tokens in text before any
// splitting happens.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "attnscope/tokenizer.h"

namespace attnscope::detail {

// Hash and equality that accept std::string_view, so lookups need no temporary string.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<TokenType> types;
  std::vector<float> scores;  // empty when the format has none
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids;
  int32_t bos = -1, eos = -1, unk = -1, pad = -1;
  bool add_bos = false;
  std::string chat_template;
  std::string source;  // file the vocabulary came from, for error messages

  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
  int32_t find(std::string_view text) const {
    auto it = ids.find(text);
    return it == ids.end() ? -1 : it->second;
  }
  // Fills `ids` from `tokens` (the first id wins for duplicated texts) and defaults `types`.
  void index();
  // Error(InvalidArgument) for an id outside the vocabulary.
  void check_id(int32_t id) const;
};

// A token matched as a whole in raw text (Control, UserDefined, Unknown, added tokens).
struct SpecialToken {
  std::string text;
  int32_t id = -1;
  bool special = true;  // matched only when parse_special is set
  bool lstrip = false;  // swallows the Unicode White_Space (not only ASCII) on its left
  bool rstrip = false;  // and on its right, as Hugging Face tokenizers does
  // Matched only where no word character (Rust regex \w, Unicode) touches it on either side;
  // elsewhere its text stays raw (Hugging Face tokenizers' single_word).
  bool single_word = false;
};

// A piece of input: raw text [begin, end) or a matched token (id >= 0).
struct Fragment {
  size_t begin = 0, end = 0;
  int32_t id = -1;
};

class SpecialMatcher {
 public:
  void add(SpecialToken token);
  bool empty() const { return tokens_.empty(); }
  // Leftmost-longest matching of the registered tokens.
  void split(std::string_view text, bool parse_special, std::vector<Fragment>& out) const;

 private:
  std::vector<SpecialToken> tokens_;
  std::array<std::vector<uint32_t>, 256> by_first_byte_;  // indices, longest first
};

}  // namespace attnscope::detail
