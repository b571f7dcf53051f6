// Pre-tokenizers: the regex chains that cut text into words before BPE, compiled with PCRE2
// (UTF + UCP, JIT). Each regex of a chain splits every piece left by the previous one into its
// matches and the text between them ("Isolated" in Hugging Face terms, the way llama.cpp chains
// its regexes too), so nothing is ever dropped. Malformed UTF-8 never matches a pattern and
// ends up in the gaps, which keeps encoding lossless.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnscope::detail {

// One compiled pattern. Shared, immutable after construction, safe to use from many threads.
class Regex {
 public:
  explicit Regex(const std::string& pattern);  // Error(Format) naming the pattern if it fails
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  const std::string& pattern() const { return pattern_; }
  // Appends to `out` the pieces [begin, end) of text[from, to): matches and gaps, in order.
  void split(std::string_view text, size_t from, size_t to, std::vector<std::pair<size_t, size_t>>& out) const;

 private:
  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
};

// The patterns of the model families (same text as the reference tokenizers use).
extern const char* const kGpt2Pattern;
extern const char* const kLlama3Pattern;
extern const char* const kQwen2Pattern;

class PreTokenizer {
 public:
  void add_regex(const std::string& pattern);
  bool empty() const { return steps_.empty(); }
  // Pieces of `text` as [begin, end) byte ranges covering all of it, in order.
  void split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const;
  // Named pre-tokenizers of llama.cpp's `tokenizer.ggml.pre`. Unknown names are an
  // Error(Unsupported) that names them.
  static PreTokenizer from_gguf_name(const std::string& name);
  // Whether the name is known and means Llama-3 style rules (ignore_merges, BOS).
  static bool is_llama3_name(const std::string& name);

 private:
  std::vector<std::shared_ptr<const Regex>> steps_;
};

}  // namespace attnscope::detail
