// What SentencePiece and BPE tokenizers have in common: a Vocab, special-token splitting,
// BOS handling, control tokens dropped on decode. A kind implements how one raw-text fragment
// becomes ids and how one token turns back into bytes.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "attnscope/tokenizer.h"
#include "tokenizer/vocab.h"

namespace attnscope::detail {

class TokenizerBase : public Tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = true) const override;
  std::string decode(const std::vector<int32_t>& ids) const override;
  const std::string& token_text(int32_t id) const override;
  std::string token_to_str(int32_t id) const override;
  int32_t vocab_size() const override { return vocab_.size(); }
  TokenType token_type(int32_t id) const override;
  int32_t bos_id() const override { return vocab_.bos; }
  int32_t eos_id() const override { return vocab_.eos; }
  int32_t unk_id() const override { return vocab_.unk; }
  int32_t pad_id() const override { return vocab_.pad; }
  bool add_bos_default() const override { return vocab_.add_bos; }
  std::string chat_template() const override { return vocab_.chat_template; }
  int32_t token_to_id(std::string_view text) const override { return vocab_.find(text); }
  float token_score(int32_t id) const override;

  const Vocab& vocab() const { return vocab_; }
  SpecialMatcher& specials() { return specials_; }
  // Registers every Control / UserDefined / Unknown vocabulary entry as a special token, the
  // way llama.cpp does for GGUF vocabularies.
  void register_specials_from_types();

 protected:
  explicit TokenizerBase(Vocab vocab) : vocab_(std::move(vocab)) {}
  // Encodes one raw-text fragment. `after_special` is true for the first fragment and for
  // fragments that follow a matched special token (SentencePiece adds its space prefix then).
  virtual void encode_fragment(std::string_view text, bool first, bool after_special,
                               std::vector<int32_t>& out) const = 0;
  // The bytes token `id` stands for in decoded text (never called for Control tokens).
  virtual std::string token_bytes(int32_t id) const = 0;
  // Final touch on decoded text, e.g. SentencePiece removes the space prefix it added.
  virtual void finish_decode(std::string& text, bool first_was_text) const {
    (void)text;
    (void)first_was_text;
  }

  Vocab vocab_;
  SpecialMatcher specials_;
};

// "<0xAB>" -> 0xAB, or -1 if `text` is not a byte token.
int parse_byte_token(std::string_view text);

}  // namespace attnscope::detail
