// SentencePiece BPE as llama.cpp runs it for `tokenizer.ggml.model = llama` vocabularies (and as
// SentencePiece itself does for Llama 2's tokenizer.model): spaces become "▁", a "▁" is put in
// front of the text (add_space_prefix), then adjacent pieces are merged greedily, always the
// pair whose merged piece has the highest score (leftmost on ties). Characters missing from the
// vocabulary fall back to <0xXX> byte tokens.
#pragma once
#include <array>

#include "tokenizer/tokenizer_base.h"

namespace attnscope::detail {

class SpmTokenizer final : public TokenizerBase {
 public:
  // vocab.scores must hold one score per token.
  SpmTokenizer(Vocab vocab, bool add_space_prefix);
  std::string kind() const override { return "spm"; }
  std::string pre_tokenizer() const override { return "sentencepiece"; }
  bool add_space_prefix() const { return add_space_prefix_; }

 protected:
  void encode_fragment(std::string_view text, bool first, bool after_special, std::vector<int32_t>& out) const override;
  std::string token_bytes(int32_t id) const override;
  void finish_decode(std::string& text, bool first_was_text) const override;

 private:
  // Id of a piece that may take part in merging (normal or user-defined), else -1.
  int32_t mergeable(std::string_view text) const;
  bool add_space_prefix_;
  std::array<int32_t, 256> byte_token_{};
};

}  // namespace attnscope::detail
