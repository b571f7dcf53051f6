// Tokenizer interface: SentencePiece (llama-style) and byte-level BPE implement it.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace attnscope {

class GgufFile;

// Text for an output edge (JSON, Python str, a figure): bytes that are not valid UTF-8 become
// U+FFFD, one per maximal ill-formed subsequence, exactly as Python's
// bytes.decode("utf-8", "replace") and Hugging Face decoding do. Token-by-token decoding often
// yields half a character; keep the ids (or the raw bytes) when the exact bytes matter.
std::string valid_utf8(std::string_view bytes);

// What kind of vocabulary entry a token is (GGUF token_type values).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Text to ids. add_bos: prepend BOS when the model's rules say so (the tokenizer's default
  // add-BOS flag decides when add_bos is std::nullopt-like "default"; here true/false is explicit).
  // parse_special: match special/added tokens such as <|begin_of_text|> in the text.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = true) const = 0;
  // Ids back to text (BOS/EOS and other control tokens are dropped).
  virtual std::string decode(const std::vector<int32_t>& ids) const = 0;
  // The raw vocabulary entry (e.g. "▁the", "Ġthe", "<0x0A>").
  virtual const std::string& token_text(int32_t id) const = 0;
  // What a person reads for this token on a heatmap axis: "▁"/"Ġ" shown as a space, byte
  // tokens that form no complete UTF-8 character as "<0xE2>"; always valid UTF-8.
  virtual std::string token_to_str(int32_t id) const = 0;
  std::vector<std::string> to_str_tokens(const std::vector<int32_t>& ids) const;

  virtual int32_t vocab_size() const = 0;
  virtual TokenType token_type(int32_t id) const = 0;
  virtual int32_t bos_id() const = 0;  // -1 if none
  virtual int32_t eos_id() const = 0;  // -1 if none
  virtual bool add_bos_default() const = 0;
  // "spm" or "bpe": for `info` output.
  virtual std::string kind() const = 0;

  // Added for the tokenizer issue (all have defaults, so other implementations keep compiling).
  virtual int32_t unk_id() const { return -1; }
  // The padding token the vocabulary names (GGUF tokenizer.ggml.padding_token_id, ...), -1 if none.
  virtual int32_t pad_id() const { return -1; }
  // Id of a vocabulary entry given its raw text ("▁the", "Ġthe", "<|begin_of_text|>"), -1 if none.
  virtual int32_t token_to_id(std::string_view text) const {
    (void)text;
    return -1;
  }
  // SentencePiece score of a token (0 when the vocabulary has none).
  virtual float token_score(int32_t id) const {
    (void)id;
    return 0.0f;
  }
  // The chat template string (tokenizer_config.json / tokenizer.chat_template), "" if none.
  virtual std::string chat_template() const { return {}; }
  // The pre-tokenizer name or description, e.g. "llama-bpe" or "tokenizer.json regex".
  virtual std::string pre_tokenizer() const { return {}; }
  // encode() on each text.
  std::vector<std::vector<int32_t>> encode_batch(const std::vector<std::string>& texts, bool add_bos,
                                                 bool parse_special = true) const;

  // A token given as text (a target, a contrast token): TransformerLens' to_single_token. The id
  // of the one token encode(text, false) gives; the text is taken as it would be encoded at the
  // start of a prompt, so a SentencePiece tokenizer with a space prefix reads "Z" as "▁Z".
  // InvalidArgument when it encodes to no token or to several: the message lists the tokens it
  // encoded to and single_token_candidates(text), so the caller can pick one by id. Never
  // silently the first of several tokens.
  int32_t to_single_token(std::string_view text) const;
  // Single tokens that spell `text` with or without one leading space: the vocabulary entries
  // text, "▁"+text and "Ġ"+text (SentencePiece and byte-level BPE spaces), and what " "+text
  // and text encode to when that is one token. Ids ascending, no duplicates; may be empty.
  std::vector<int32_t> single_token_candidates(std::string_view text) const;

  // Builds the tokenizer described by a GGUF file's tokenizer.ggml.* metadata.
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& file);
  // From a path: a GGUF file, a tokenizer.json, a directory holding tokenizer.json (+
  // tokenizer_config.json) or encoder.json + vocab.bpe, a SentencePiece tokenizer.model,
  // or encoder.json itself (vocab.bpe beside it).
  static std::unique_ptr<Tokenizer> from_path(const std::string& path);
};

}  // namespace attnscope
