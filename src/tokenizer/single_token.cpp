// A token given as text must be exactly one token (TransformerLens' to_single_token). Taking the
// first of several tokens is how "Z" on a SentencePiece vocabulary without "▁Z" silently became
// "▁" (the space prefix) instead of "Z"; here that is refused, with the tokens the text did encode
// to and the single tokens that spell it, so the caller picks one knowingly.
#include <algorithm>
#include <string>

#include "attnscope/error.h"
#include "attnscope/tokenizer.h"

namespace attnscope {

namespace {

// "'▁' = 410": the raw vocabulary entry (so the space marker shows) and the id.
std::string describe(const Tokenizer& tok, int32_t id) {
  return "'" + valid_utf8(tok.token_text(id)) + "' = " + std::to_string(id);
}

}  // namespace

std::vector<int32_t> Tokenizer::single_token_candidates(std::string_view text) const {
  // One leading space is the ambiguity that matters: "Z" and " Z" are different tokens, and a
  // space-prefixing SentencePiece tokenizer cannot encode the bare "Z" on its own.
  const std::string_view bare = !text.empty() && text.front() == ' ' ? text.substr(1) : text;
  std::vector<int32_t> ids;
  if (bare.empty()) return ids;
  const std::string spellings[] = {std::string(text), std::string(bare), "\xE2\x96\x81" + std::string(bare),
                                   "\xC4\xA0" + std::string(bare)};  // "▁" and "Ġ"
  for (const auto& s : spellings) {
    const int32_t id = token_to_id(s);
    if (id >= 0) ids.push_back(id);
  }
  for (const std::string& s : {std::string(bare), " " + std::string(bare)}) {
    const auto enc = encode(s, false);
    if (enc.size() == 1) ids.push_back(enc[0]);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

int32_t Tokenizer::to_single_token(std::string_view text) const {
  const std::vector<int32_t> ids = encode(text, false);
  if (ids.size() == 1) return ids[0];
  std::string msg = "'" + valid_utf8(text) + "' encodes to " +
                    (ids.empty() ? std::string("no token") : std::to_string(ids.size()) + " tokens [");
  for (size_t i = 0; i < ids.size(); ++i) msg += (i ? ", " : "") + describe(*this, ids[i]);
  if (!ids.empty()) msg += "]";
  msg += ", not to one token; ";
  const std::vector<int32_t> cands = single_token_candidates(text);
  if (cands.empty())
    fail(ErrorKind::InvalidArgument,
         msg + "no single token spells it, with or without a leading space: give a token id");
  msg += "single tokens that spell it: ";
  for (size_t i = 0; i < cands.size(); ++i) {
    const bool spaced = token_to_str(cands[i]).starts_with(' ');
    msg += (i ? ", " : "") + describe(*this, cands[i]) + (spaced ? " (leading space)" : " (no leading space)");
  }
  fail(ErrorKind::InvalidArgument, msg + ": give one by id");
}

}  // namespace attnscope
