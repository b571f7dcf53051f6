#include "tokenizer/pretokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <array>

#include "attnscope/error.h"
#include "tokenizer/utf8.h"

namespace attnscope::detail {

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
const char* const kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {
// GPT-2's pattern without the final `|\s+`, as llama.cpp lists it for the StarCoder family
// (the gap pieces make the two equivalent).
const char* const kDigitPattern = R"(\p{N})";
}  // namespace

Regex::Regex(const std::string& pattern) : pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE err_off = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
  if (!code) {
    std::array<PCRE2_UCHAR, 256> msg{};
    pcre2_get_error_message(err, msg.data(), msg.size());
    fail(ErrorKind::Format, "pre-tokenizer regex does not compile at offset " + std::to_string(err_off) + " (" +
                                reinterpret_cast<const char*>(msg.data()) + "): " + pattern);
  }
  // JIT is an optimisation only: if it is unavailable the interpreter gives the same matches.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  code_ = code;
}

Regex::~Regex() { pcre2_code_free(static_cast<pcre2_code*>(code_)); }

void Regex::split(std::string_view text, size_t from, size_t to, std::vector<std::pair<size_t, size_t>>& out) const {
  auto* code = static_cast<pcre2_code*>(code_);
  // One match-data block per thread and pattern count is enough: ovector of one pair.
  struct MatchData {
    pcre2_match_data* md = pcre2_match_data_create(1, nullptr);
    ~MatchData() { pcre2_match_data_free(md); }
  };
  thread_local MatchData tl;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = from;
  size_t gap_start = from;
  while (pos < to) {
    int rc = pcre2_match(code, subject, to, pos, 0, tl.md, nullptr);
    if (rc < 0) break;  // no further match (or a match-limit error): the rest is one gap
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(tl.md);
    size_t b = ov[0], e = ov[1];
    if (e <= b) {
      // An empty match: step over one unit so the loop always advances.
      pos = b + utf8_unit_len(text, b);
      continue;
    }
    if (b > gap_start) out.emplace_back(gap_start, b);
    out.emplace_back(b, e);
    pos = gap_start = e;
  }
  if (to > gap_start) out.emplace_back(gap_start, to);
}

void PreTokenizer::add_regex(const std::string& pattern) { steps_.push_back(std::make_shared<const Regex>(pattern)); }

void PreTokenizer::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  out.clear();
  if (text.empty()) return;
  if (steps_.empty()) {
    out.emplace_back(0, text.size());
    return;
  }
  steps_[0]->split(text, 0, text.size(), out);
  std::vector<std::pair<size_t, size_t>> next;
  for (size_t s = 1; s < steps_.size(); ++s) {
    next.clear();
    for (auto [b, e] : out) steps_[s]->split(text, b, e, next);
    out.swap(next);
  }
}

bool PreTokenizer::is_llama3_name(const std::string& name) {
  return name == "llama-bpe" || name == "llama3" || name == "llama-v3" || name == "falcon3";
}

PreTokenizer PreTokenizer::from_gguf_name(const std::string& name) {
  PreTokenizer p;
  if (name == "gpt-2" || name == "gpt2" || name == "mpt" || name == "olmo" || name == "jais") {
    p.add_regex(kGpt2Pattern);
  } else if (is_llama3_name(name)) {
    p.add_regex(kLlama3Pattern);
  } else if (name == "qwen2" || name == "deepseek-r1-qwen") {
    p.add_regex(kQwen2Pattern);
  } else if (name == "smollm" || name == "starcoder" || name == "refact" || name == "command-r" ||
             name == "codeshell" || name == "exaone" || name == "minerva") {
    // Digits one by one, then GPT-2's pattern (Hugging Face: Digits + ByteLevel).
    p.add_regex(kDigitPattern);
    p.add_regex(kGpt2Pattern);
  } else if (name == "default") {
    // What llama.cpp does for a BPE vocabulary whose pre-tokenizer is "default" (older GGUFs).
    p.add_regex(R"([\p{P}\$\+<=>\^`\|]+)");
    p.add_regex(kGpt2Pattern);
    p.add_regex(R"(\p{N}+)");
    p.add_regex(R"([0-9][0-9][0-9])");
  } else {
    fail(ErrorKind::Unsupported, "unknown BPE pre-tokenizer '" + name +
                                     "' (tokenizer.ggml.pre); known: gpt-2, llama-bpe, llama3, "
                                     "qwen2, smollm, starcoder, refact, command-r, mpt, olmo, "
                                     "default");
  }
  return p;
}

}  // namespace attnscope::detail
