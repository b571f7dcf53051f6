// BPE by merge rank, in two flavours:
//  - byte-level (GPT-2, Llama 3, Qwen2, SmolLM): text bytes are spelled with GPT-2's
//    byte-to-unicode table, split by the pre-tokenizer regexes, and each piece is merged;
//  - character-level with byte fallback (SentencePiece models described by tokenizer.json, e.g.
//    Llama 2 / Mistral): spaces become "▁", characters missing from the vocabulary become
//    <0xXX> byte tokens.
// Merging uses a heap of candidate pairs over a linked list of symbols, O(n log n) per piece,
// and a per-piece cache, so repeated words and pathological inputs (1 MB of one letter) stay fast.
#pragma once
#include <array>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer_base.h"

namespace attnscope::detail {

struct BpeOptions {
  bool byte_level = true;
  bool ignore_merges = false;  // a piece that is a whole vocabulary entry is not merged (Llama 3)
  bool byte_fallback = false;  // character level: unknown characters become <0xXX> tokens
  bool fuse_unk = false;       // consecutive unknowns become one unk token
  // Normalizer, in this order: NFC/NFKC, Prepend (each fragment), Replace.
  bool nfc = false;
  bool nfkc = false;
  std::string prepend;
  std::vector<std::pair<std::string, std::string>> replace;
  // Metaspace pre-tokenizer (replaces ' ' with `metaspace`, prepends it per `prepend_scheme`).
  std::string metaspace;                  // empty: no Metaspace step
  std::string prepend_scheme = "always";  // always | first | never
  bool metaspace_split = false;
  bool byte_level_add_prefix_space = false;  // ByteLevel pre-tokenizer option
  PreTokenizer pre;                          // regex chain (byte level: runs on the raw text)
  std::string pre_name;                      // for pre_tokenizer()
  // Decoder for character-level vocabularies: replacements, then up to strip_left leading spaces.
  std::vector<std::pair<std::string, std::string>> decode_replace;
  int strip_left = 0;
};

// One merge rule as written in the file: left and right token texts.
using MergeRule = std::pair<std::string, std::string>;

class BpeTokenizer final : public TokenizerBase {
 public:
  // Errors (Format) for a merge that names a token missing from the vocabulary; `where` names
  // the file for the message.
  BpeTokenizer(Vocab vocab, const std::vector<MergeRule>& merges, BpeOptions options);

  std::string kind() const override { return "bpe"; }
  std::string pre_tokenizer() const override { return opt_.pre_name; }

 protected:
  void encode_fragment(std::string_view text, bool first, bool after_special, std::vector<int32_t>& out) const override;
  std::string token_bytes(int32_t id) const override;
  void finish_decode(std::string& text, bool first_was_text) const override;

 private:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  std::string normalize(std::string_view text, bool first) const;
  // Ids of one pre-token piece (bytes as in the normalised text).
  void encode_piece(std::string_view piece, std::vector<int32_t>& out) const;
  void merge_piece(std::string_view piece, std::vector<int32_t>& out) const;

  BpeOptions opt_;
  // Open-addressing table (pair key -> merge): one probe sequence in a flat array is markedly
  // faster than std::unordered_map's nodes in the merge loop.
  struct MergeSlot {
    uint64_t key = kEmptyKey;
    Merge merge{0, 0};
  };
  static constexpr uint64_t kEmptyKey = ~0ull;  // pair (-1, -1) never occurs
  void build_merge_table(const std::vector<std::pair<uint64_t, Merge>>& entries);
  const Merge* find_merge(int32_t a, int32_t b) const {
    const uint64_t key = pair_key(a, b);
    for (size_t i = (key * 0x9E3779B97F4A7C15ull) >> merge_shift_;; i = (i + 1) & merge_mask_) {
      const MergeSlot& s = merge_table_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmptyKey) return nullptr;
    }
  }
  std::vector<MergeSlot> merge_table_;
  size_t merge_mask_ = 0;
  int merge_shift_ = 64;
  std::array<int32_t, 256> byte_symbol_{};  // byte level: id of each byte's single-char token
  std::array<int32_t, 256> byte_token_{};   // <0xXX> ids for byte fallback (-1 if absent)
  bool all_byte_tokens_ = false;

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace attnscope::detail
