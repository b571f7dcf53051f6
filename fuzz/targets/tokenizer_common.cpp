#include "tokenizer_common.h"

#include <cstdio>
#include <cstdlib>

#include "tokenizer/utf8.h"

namespace attnscope::fuzz {

namespace {
[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "attnscope fuzz finding: %s\n", what);
  std::abort();
}
}  // namespace

void exercise_tokenizer(const Tokenizer& tok, std::string_view text) {
  const int32_t n = tok.vocab_size();
  for (bool special : {true, false}) {
    const auto ids = tok.encode(text, true, special);
    for (int32_t id : ids)
      if (id < 0 || id >= n) finding("encode returned an id outside the vocabulary");
    (void)tok.decode(ids);
    for (const auto& s : tok.to_str_tokens(ids))
      if (!detail::utf8_valid(s)) finding("token_to_str is not valid UTF-8");
  }
  // A few entries of the vocabulary itself, whatever they hold.
  for (int32_t id = 0; id < n && id < 64; ++id) {
    (void)tok.token_text(id);
    if (!detail::utf8_valid(tok.token_to_str(id))) finding("token_to_str is not valid UTF-8");
  }
  (void)tok.decode({0, n - 1, tok.bos_id(), tok.eos_id()});
}

}  // namespace attnscope::fuzz
