// What every tokenizer target does with a tokenizer it managed to load: encode a fixed sample and
// the given text, check the ids against the vocabulary, decode them and show every token.
#pragma once
#include <string_view>

#include "attnscope/tokenizer.h"

namespace attnscope::fuzz {

// Aborts (a finding) when an id is outside the vocabulary or a display string is not UTF-8.
void exercise_tokenizer(const Tokenizer& tok, std::string_view text);

}  // namespace attnscope::fuzz
