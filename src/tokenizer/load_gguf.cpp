// Tokenizer from a GGUF file's tokenizer.ggml.* metadata (llama.cpp's conventions):
//   model = "llama" -> SentencePiece (scores, token types, byte fallback, add_space_prefix)
//   model = "gpt2"  -> byte-level BPE (merges; `pre` names the pre-tokenizer)
#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/utf8.h"

namespace attnscope {

namespace {

using detail::Vocab;

std::string where(const GgufFile& f, const std::string& key) { return f.path() + ": " + key; }

const GgufArray& array_of(const GgufFile& f, const std::string& key, GgufValueType elem) {
  const GgufValue& v = f.get(key);
  if (v.type != GgufValueType::ARRAY) {
    fail(ErrorKind::Format, where(f, key) + " is not an array");
  }
  const GgufArray& a = v.as_array();
  if (!a.empty() && v.array_type != elem) {
    fail(ErrorKind::Format, where(f, key) + " holds " + gguf_value_type_name(v.array_type) + " elements, expected " +
                                gguf_value_type_name(elem));
  }
  return a;
}

int32_t optional_id(const GgufFile& f, const std::string& key, int32_t n_vocab) {
  const auto v = f.get_int(key);
  // -1, stored as a u32 by some converters, means "none".
  if (!v || *v < 0 || *v == 0xFFFFFFFFll) return -1;
  if (*v < 0 || *v >= n_vocab) {
    fail(ErrorKind::Format, where(f, key) + " = " + std::to_string(*v) + " is outside the vocabulary (size " +
                                std::to_string(n_vocab) + ")");
  }
  return static_cast<int32_t>(*v);
}

bool optional_bool(const GgufFile& f, const std::string& key, bool fallback) {
  if (!f.has(key)) return fallback;
  return f.get(key).as_bool();
}

Vocab read_vocab(const GgufFile& f) {
  Vocab v;
  v.source = f.path();
  const GgufArray& tokens = array_of(f, "tokenizer.ggml.tokens", GgufValueType::STRING);
  if (tokens.empty()) fail(ErrorKind::Format, where(f, "tokenizer.ggml.tokens") + " is empty");
  v.tokens.reserve(tokens.size());
  for (const auto& t : tokens) v.tokens.push_back(t.as_string());
  const int32_t n = v.size();
  if (f.has("tokenizer.ggml.token_type")) {
    const GgufArray& types = array_of(f, "tokenizer.ggml.token_type", GgufValueType::I32);
    if (static_cast<int64_t>(types.size()) != n) {
      fail(ErrorKind::Format, where(f, "tokenizer.ggml.token_type") + " has " + std::to_string(types.size()) +
                                  " entries for " + std::to_string(n) + " tokens");
    }
    v.types.reserve(n);
    for (size_t i = 0; i < types.size(); ++i) {
      const int64_t t = types[i].as_int();
      if (t < 0 || t > 6) {
        fail(ErrorKind::Format, where(f, "tokenizer.ggml.token_type") + "[" + std::to_string(i) +
                                    "] = " + std::to_string(t) + " is not a token type");
      }
      v.types.push_back(static_cast<TokenType>(t));
    }
  }
  if (f.has("tokenizer.ggml.scores")) {
    const GgufArray& scores = array_of(f, "tokenizer.ggml.scores", GgufValueType::F32);
    if (static_cast<int64_t>(scores.size()) != n) {
      fail(ErrorKind::Format, where(f, "tokenizer.ggml.scores") + " has " + std::to_string(scores.size()) +
                                  " entries for " + std::to_string(n) + " tokens");
    }
    v.scores.reserve(n);
    for (const auto& s : scores) v.scores.push_back(static_cast<float>(s.as_float()));
  }
  v.index();
  v.bos = optional_id(f, "tokenizer.ggml.bos_token_id", n);
  v.eos = optional_id(f, "tokenizer.ggml.eos_token_id", n);
  v.unk = optional_id(f, "tokenizer.ggml.unknown_token_id", n);
  v.pad = optional_id(f, "tokenizer.ggml.padding_token_id", n);
  if (auto t = f.get_string("tokenizer.chat_template")) v.chat_template = *t;
  return v;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& f) {
  const auto model = f.get_string("tokenizer.ggml.model");
  if (!model) {
    fail(ErrorKind::NotFound, f.path() +
                                  ": no tokenizer.ggml.model key: the file carries no "
                                  "tokenizer");
  }
  if (*model == "no_vocab") {
    fail(ErrorKind::NotFound, f.path() +
                                  ": tokenizer.ggml.model is 'no_vocab': the file carries "
                                  "no tokenizer");
  }
  if (*model == "llama") {
    Vocab v = read_vocab(f);
    if (v.scores.empty()) v.scores.assign(v.tokens.size(), 0.0f);
    v.add_bos = optional_bool(f, "tokenizer.ggml.add_bos_token", true);
    const bool space_prefix = optional_bool(f, "tokenizer.ggml.add_space_prefix", true);
    auto tok = std::make_unique<detail::SpmTokenizer>(std::move(v), space_prefix);
    tok->register_specials_from_types();
    return tok;
  }
  if (*model == "gpt2") {
    const std::string pre = f.get_string("tokenizer.ggml.pre").value_or("default");
    detail::BpeOptions opt;
    opt.pre = detail::PreTokenizer::from_gguf_name(pre);  // names an unknown pre in its error
    opt.pre_name = pre;
    opt.byte_level = true;
    const bool llama3 = detail::PreTokenizer::is_llama3_name(pre);
    opt.ignore_merges = llama3;
    Vocab v = read_vocab(f);
    v.add_bos = optional_bool(f, "tokenizer.ggml.add_bos_token", llama3);
    std::vector<detail::MergeRule> merges;
    if (f.has("tokenizer.ggml.merges")) {
      const GgufArray& m = array_of(f, "tokenizer.ggml.merges", GgufValueType::STRING);
      merges.reserve(m.size());
      for (size_t i = 0; i < m.size(); ++i) {
        const std::string& s = m[i].as_string();
        const size_t sp = s.find(' ', 1);  // the left part is never empty
        if (sp == std::string::npos) {
          fail(ErrorKind::Format, where(f, "tokenizer.ggml.merges") + "[" + std::to_string(i) + "] = '" +
                                      detail::utf8_display(s) + "' is not two tokens separated by a space");
        }
        merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      }
    }
    auto tok = std::make_unique<detail::BpeTokenizer>(std::move(v), merges, std::move(opt));
    tok->register_specials_from_types();
    return tok;
  }
  fail(ErrorKind::Unsupported, f.path() + ": tokenizer.ggml.model '" + *model +
                                   "' is not supported (supported: llama = SentencePiece, "
                                   "gpt2 = byte-level BPE)");
}

}  // namespace attnscope
