// Token targets given as text (--target, --contrast, --minus of ablate, dla and scan) are exactly
// one token or refused naming what the text encoded to. On stories260K "Z" is "▁" "Z": taking
// the first token made the target "▁" without a word. Ids come from the GGUF token list.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "attnscope/gguf.h"
#include "common/cli_runner.h"

namespace {

const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";
const std::string kPrompt = "'Zara went to the park. Zara saw a dog. Then Zara'";

int32_t vocab_id(const std::string& piece) {
  const auto f = attnscope::GgufFile::open(kStories);
  const auto& tokens = f.get("tokenizer.ggml.tokens").as_array();
  for (size_t i = 0; i < tokens.size(); ++i)
    if (tokens[i].as_string() == piece) return static_cast<int32_t>(i);
  return -1;
}

// A refusal: exit code 2 (invalid argument) and a message naming "▁" and "Z" with their ids.
void expect_z_refused(const std::string& args, const std::string& flag) {
  const test_cli::Result r = test_cli::run_cli(args);
  EXPECT_EQ(r.code, 2) << args << "\n" << r.out;
  const std::string listed = "['\xE2\x96\x81' = " + std::to_string(vocab_id("\xE2\x96\x81")) +
                             ", 'Z' = " + std::to_string(vocab_id("Z")) + "]";
  EXPECT_NE(r.out.find(flag + ": 'Z' encodes to 2 tokens " + listed), std::string::npos) << args << "\n" << r.out;
  EXPECT_NE(r.out.find(flag + "-id"), std::string::npos) << r.out;
}

}  // namespace

TEST(CliTargets, TextThatIsTwoTokensIsRefusedEverywhere) {
  ASSERT_GE(vocab_id("Z"), 0);
  ASSERT_EQ(vocab_id("\xE2\x96\x81Z"), -1);  // the premise: no "▁Z" in this vocabulary
  expect_z_refused("ablate -m " + kStories + " " + kPrompt + " --sweep --target Z --position 24", "--target");
  expect_z_refused("ablate -m " + kStories + " " + kPrompt + " --target-id 5 --contrast Z", "--contrast");
  expect_z_refused("dla -m " + kStories + " " + kPrompt + " --target Z", "--target");
  expect_z_refused("dla -m " + kStories + " " + kPrompt + " --target-id 5 --minus Z", "--minus");
  const std::string corpus = testing::TempDir() + "/attnscope_targets_corpus.txt";
  std::ofstream(corpus) << "Zara went to the park.\n";
  expect_z_refused("scan " + corpus + " -m " + kStories + " --no-progress --target Z", "--target");
  std::filesystem::remove(corpus);
}

TEST(CliTargets, OneTokenTextAndIdsResolveToTheirToken) {
  // "Lily" encodes (with the SentencePiece space prefix) to the one token "▁Lily".
  const int32_t lily = vocab_id("\xE2\x96\x81Lily");
  ASSERT_GE(lily, 0);
  const auto text = test_cli::run_cli_json("ablate -m " + kStories + " " + kPrompt + " --sweep --target Lily");
  EXPECT_EQ(text["target"], lily);
  const auto dla = test_cli::run_cli_json("dla -m " + kStories + " " + kPrompt + " --target Lily");
  EXPECT_EQ(dla["target"]["id"], lily);
  // The id the refusal offers selects "Z".
  const auto z = test_cli::run_cli_json("ablate -m " + kStories + " " + kPrompt + " --sweep --target-id " +
                                        std::to_string(vocab_id("Z")) + " --position 24");
  EXPECT_EQ(z["target_str"], "Z");
}
