// A token given as text (to_single_token, TransformerLens' name) is exactly one token or refused
// with what it encoded to and the single tokens that spell it. Ids are checked against the
// vocabularies read directly from the files (GGUF token list, GPT-2's encoder.json), not against
// the tokenizer's own encoder.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "attnscope/tokenizer.h"
#include "common/test_files.h"

namespace {

using attnscope::Error;
using attnscope::ErrorKind;
using attnscope::test::model_path;

// The id of a vocabulary entry in a GGUF file's tokenizer.ggml.tokens, -1 if absent.
int32_t gguf_id(const std::string& file, const std::string& piece) {
  const auto f = attnscope::GgufFile::open(model_path(file));
  const auto& tokens = f.get("tokenizer.ggml.tokens").as_array();
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i].as_string() == piece) return static_cast<int32_t>(i);
  return -1;
}

std::string refusal(const attnscope::Tokenizer& tok, const std::string& text) {
  try {
    (void)tok.to_single_token(text);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    return e.what();
  }
  ADD_FAILURE() << "'" << text << "' was accepted as one token";
  return {};
}

}  // namespace

TEST(SingleToken, StoriesZIsRefusedNamingSpaceAndZ) {
  // stories260K has "Z" but no "▁Z": the space-prefixing SentencePiece encoder makes "Z" into
  // "▁" "Z", which TransformerLens' to_single_token refuses too. The first token ("▁") was
  // what the targets silently used.
  const int32_t space = gguf_id("stories260K.gguf", "\xE2\x96\x81");
  const int32_t z = gguf_id("stories260K.gguf", "Z");
  ASSERT_GE(space, 0);
  ASSERT_GE(z, 0);
  ASSERT_EQ(gguf_id("stories260K.gguf", "\xE2\x96\x81Z"), -1);
  const auto model = attnscope::Model::load(model_path("stories260K.gguf"));
  const std::string msg = refusal(model.tokenizer(), "Z");
  EXPECT_NE(msg.find("2 tokens ['\xE2\x96\x81' = " + std::to_string(space) + ", 'Z' = " + std::to_string(z) + "]"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("'Z' = " + std::to_string(z) + " (no leading space)"), std::string::npos) << msg;
  EXPECT_EQ(model.tokenizer().single_token_candidates("Z"), std::vector<int32_t>{z});
  EXPECT_THROW((void)model.to_single_token("Z"), Error);
}

TEST(SingleToken, StoriesWordWithItsPrefixIsOneToken) {
  // "Lily" is encoded with the SentencePiece space prefix, as at the start of a prompt.
  const int32_t lily = gguf_id("stories260K.gguf", "\xE2\x96\x81Lily");
  ASSERT_GE(lily, 0);
  const auto model = attnscope::Model::load(model_path("stories260K.gguf"));
  EXPECT_EQ(model.to_single_token("Lily"), lily);
  EXPECT_EQ(model.tokenizer().to_single_token("Lily"), lily);
}

TEST(SingleToken, EmptyTextAndNoCandidateAreRefused) {
  const auto model = attnscope::Model::load(model_path("stories260K.gguf"));
  EXPECT_NE(refusal(model.tokenizer(), "").find("no token"), std::string::npos);
  const std::string msg = refusal(model.tokenizer(), "Lily Lily");
  EXPECT_NE(msg.find("no single token spells it"), std::string::npos) << msg;
}

TEST(SingleToken, Gpt2SpaceAndNoSpaceAreDifferentTokens) {
  std::ifstream in(model_path("tokenizers/gpt2/encoder.json"));
  const auto vocab = nlohmann::json::parse(in);
  const int32_t spaced = vocab.at("\xC4\xA0the").get<int32_t>();  // "Ġthe"
  const int32_t bare = vocab.at("the").get<int32_t>();
  const auto tok = attnscope::Tokenizer::from_path(model_path("tokenizers/gpt2"));
  EXPECT_EQ(tok->to_single_token(" the"), spaced);
  EXPECT_EQ(tok->to_single_token("the"), bare);
  // Two words are two tokens: refused with both listed, never the first one alone.
  const std::string msg = refusal(*tok, " the cat");
  EXPECT_NE(msg.find("2 tokens"), std::string::npos) << msg;
  EXPECT_NE(msg.find("= " + std::to_string(vocab
                                               .at("\xC4\xA0"
                                                   "cat")
                                               .get<int32_t>())),
            std::string::npos)
      << msg;
  // Candidates of a spaced word include the bare one, and the other way round.
  const auto cands = tok->single_token_candidates(" the");
  EXPECT_NE(std::find(cands.begin(), cands.end(), bare), cands.end());
  EXPECT_NE(std::find(cands.begin(), cands.end(), spaced), cands.end());
}
