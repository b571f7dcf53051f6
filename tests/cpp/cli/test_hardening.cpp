// The command line under the fault kinds of issue 13: NaN attention that must not look valid,
// bytes that are not UTF-8 at the JSON edge, double BOS, a tokenizer without a model, capturing
// nothing, exit codes by error kind and the one grammar (positional text, shared flags).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/cli_runner.h"

namespace {

using test_cli::Result;
using test_cli::run_cli;
namespace fs = std::filesystem;

const std::string kModels = ATTNSCOPE_MODELS_DIR;
const std::string kStories = kModels + "/stories260K.gguf";

fs::path scratch(const std::string& name) {
  const fs::path d = fs::path(ATTNSCOPE_BINARY_DIR) / "test_artifacts" / "cli_hardening";
  fs::create_directories(d);
  return d / name;
}

bool is_nan_json(const nlohmann::json& v) { return v.is_null() || (v.is_number() && std::isnan(v.get<double>())); }

}  // namespace

// The issue's input: scaling q by NaN makes every layer-0 score NaN. Softmax over NaN is NaN, so
// the intervened logits and probabilities are NaN, never finite numbers from an all-zero pattern.
TEST(CliHardening, NanQueryGivesNanPredictionsNotFiniteOnes) {
  const Result r = run_cli("ablate -t 1 abcab --edit 'blocks.0.attn.hook_q=scale:nan' -k 3 --json", false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j["intervened"]["top"].size(), 3u);
  for (const auto& p : j["intervened"]["top"]) {
    EXPECT_TRUE(is_nan_json(p["logit"])) << p;
    EXPECT_TRUE(is_nan_json(p["logprob"])) << p;
  }
  for (const auto& p : j["clean"]["top"]) EXPECT_TRUE(std::isfinite(p["logprob"].get<double>())) << p;
  const Result text = run_cli("ablate -t 1 abcab --edit 'blocks.0.attn.hook_q=scale:nan' -k 3");
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("nan"), std::string::npos) << text.out;
}

// A pattern file with a NaN: the explorer summary names the head as non_finite, with no score.
TEST(CliHardening, ExploreNamesNonFiniteHeads) {
  const fs::path json = scratch("nan_patterns.json");
  std::ofstream(json) << R"({"tokens": ["a", "b", "c"], "patterns": {"0": [[[1,0,0],[1,0,0],[0,1,0]],)"
                      << R"([[1,0,0],[null,0.5,0],[0.2,0.3,0.5]]]}})";
  const Result r = run_cli("explore --patterns " + json.string() + " --force -o " + scratch("nan.html").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("non_finite (1): L0H1"), std::string::npos) << r.out;
}

// GPT-2 token 12520 is the piece "ĠðŁ": by GPT-2's byte-to-unicode table the bytes 20 F0 9F, a space
// and the first half of a four-byte character. The JSON stays valid, the text carries U+FFFD for
// the half character (as Hugging Face decoding does), and the exact bytes are in text_bytes.
TEST(CliHardening, TokensJsonWithHalfACharacter) {
  const Result r = run_cli("tokens -m " + kModels + "/tokenizers/gpt2 --json --ids 12520", false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["pieces"][0], "\xC4\xA0\xC3\xB0\xC5\x81");  // "ĠðŁ"
  EXPECT_EQ(j["text_bytes"].get<std::vector<int>>(), (std::vector<int>{0x20, 0xF0, 0x9F}));
  EXPECT_EQ(j["token_bytes"][0], j["text_bytes"]);
  EXPECT_EQ(j["text"].get<std::string>(), " \xEF\xBF\xBD");
  const Result plain = run_cli("tokens -m " + kModels + "/tokenizers/gpt2 --ids 12520");
  EXPECT_EQ(plain.code, 0) << plain.out;
  EXPECT_NE(plain.out.find("text:  \xEF\xBF\xBD"), std::string::npos) << plain.out;
}

// "<s>Once upon" with BOS prepended: the ids keep both BOS (what the model sees), and stderr says
// so once.
TEST(CliHardening, DoubleBosIsKeptAndWarnedOnce) {
  const Result r = run_cli("tokens -m " + kStories + " '<s>Once upon'");  // stdout + stderr
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("0\t1\t\"<s>\"\n1\t1\t\"<s>\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("BOS twice"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("warning"), r.out.rfind("warning")) << "warned more than once:\n" << r.out;
  const auto j = test_cli::run_cli_json("tokens -m " + kStories + " '<s>Once upon'");
  EXPECT_EQ(j["ids"][0], 1);
  EXPECT_EQ(j["ids"][1], 1);
  const Result one = run_cli("tokens -m " + kStories + " 'Once upon' --json");
  EXPECT_EQ(one.out.find("warning"), std::string::npos) << one.out;
}

// A tokenizer alone is enough for `tokens` (ids from llama.cpp's test vectors for "Hello world").
TEST(CliHardening, TokensWithTokenizerOptionAndNoModel) {
  const auto j = test_cli::run_cli_json("tokens --tokenizer " + kModels +
                                        "/llama.cpp-vocab/ggml-vocab-gpt-2.gguf \"Hello world\"");
  EXPECT_EQ(j["ids"], nlohmann::json({15496, 995}));
}

// `trace --capture` with no names runs the forward pass and captures nothing (only --logits).
TEST(CliHardening, TraceCanCaptureNothing) {
  const fs::path out = scratch("nothing.npz");
  fs::remove(out);
  const Result r =
      run_cli("trace -m " + kStories + " 'Once upon a time' --logits -o " + out.string() + " --json --capture", false);
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["captured"].size(), 1u) << j["captured"];  // logits only
  EXPECT_TRUE(j["captured"].contains("logits"));
  const Result empty = run_cli("trace -m " + kStories + " 'Once upon' --capture '' --json", false);
  ASSERT_EQ(empty.code, 0) << empty.out;
  EXPECT_TRUE(nlohmann::json::parse(empty.out)["captured"].empty());
}

// One exit code per error kind, listed in --help.
TEST(CliHardening, ExitCodesFollowTheErrorKind) {
  const fs::path junk = scratch("truncated.gguf");  // v3 header announcing 1 tensor and 1 key, then nothing
  {
    std::ofstream f(junk, std::ios::binary);
    const char header[] = {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    f.write(header, sizeof header);
  }
  const fs::path v1 = scratch("v1.gguf");
  {
    std::ofstream f(v1, std::ios::binary);
    const char header[] = {'G', 'G', 'U', 'F', 1, 0, 0, 0};
    f.write(header, sizeof header);
    f << std::string(32, '\0');
  }
  EXPECT_EQ(run_cli("heads -l 9 abc").code, 2);                              // invalid argument
  EXPECT_EQ(run_cli("heads --no-such-flag abc").code, 2);                    // usage
  EXPECT_EQ(run_cli("info -m " + scratch("absent.gguf").string()).code, 3);  // not found
  EXPECT_EQ(run_cli("info -m " + junk.string()).code, 4);                    // malformed file
  EXPECT_EQ(run_cli("info -m " + v1.string()).code, 5);                      // unsupported (GGUF v1)
  const Result help = run_cli("--help");
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("3 not found, 4 malformed file, 5 unsupported, 6 I/O error, 7 network error"),
            std::string::npos)
      << help.out;
  EXPECT_NE(run_cli("heads --help").out.find("Exit codes"), std::string::npos);
}

// Text is positional in every command that runs text; -p survives as a deprecated alias.
TEST(CliHardening, TextIsPositionalEverywhere) {
  const fs::path h = scratch("pos.svg");
  const Result a = run_cli("heatmap 'abcab abc' -l 1 --head 0 --force -o " + h.string());
  ASSERT_EQ(a.code, 0) << a.out;
  const Result g = run_cli("grid 'abcab abc' -l 0 --force -o " + scratch("pos_grid.svg").string());
  ASSERT_EQ(g.code, 0) << g.out;
  const Result e = run_cli("explore 'abcab abc' --json --force -o " + scratch("pos.html").string(), false);
  ASSERT_EQ(e.code, 0) << e.out;
  const Result old = run_cli("explore -p 'abcab abc' --force -o " + scratch("pos_old.html").string());
  ASSERT_EQ(old.code, 0) << old.out;
  EXPECT_NE(old.out.find("deprecated"), std::string::npos) << old.out;
  // -l means layers in every command.
  for (const std::string cmd : {"heads -l 1 abcab", "induction -l 1 --n-random-tokens 8", "trace -l 1 abcab"})
    EXPECT_EQ(run_cli(cmd).code, 0) << cmd;
}

// A list option takes one value per occurrence (comma-separated or repeated), so text after it is
// the text, not one more item: `trace --capture HOOK "The cat"` once took "The cat" for a hook
// name and said no prompt was given. Every list option, placed before the text.
TEST(CliHardening, ListOptionsNeverEatTheText) {
  const std::vector<int> abcab = {1, 100, 101, 102, 100, 101};  // toy model: BOS, then byte + 3
  const auto t = test_cli::run_cli_json(
      "trace --capture blocks.0.attn.hook_pattern,blocks.1.attn.hook_pattern --capture blocks.0.hook_resid_post abcab");
  EXPECT_EQ(t["tokens"][0].get<std::vector<int>>(), abcab);
  EXPECT_EQ(t["captured"].size(), 3u) << t["captured"];
  const auto a = test_cli::run_cli_json("ablate --edit blocks.0.attn.hook_q=scale:0 --zero-heads 1:0 abcab");
  EXPECT_EQ(a["tokens"].get<std::vector<int>>(), abcab);
  EXPECT_EQ(a["interventions"].size(), 2u);
  const auto d = test_cli::run_cli_json("dla --pos 2,-1 'abcdefghij abcde'");
  ASSERT_EQ(d["positions"].size(), 2u);
  EXPECT_EQ(d["positions"][1]["position"], 16);  // BOS + 16 characters: the last is 16
  const auto r = test_cli::run_cli_json("rollout --query 1 --query -1 abcab");
  EXPECT_EQ(r["tokens"].get<std::vector<int>>(), abcab);
  EXPECT_EQ(r["queries"].size(), 2u);
  const auto g = test_cli::run_cli_json("generate --capture blocks.0.attn.hook_pattern abc -n 1 -o " +
                                        scratch("list_gen.npz").string());
  EXPECT_EQ(g["prompt"], "abc");
  EXPECT_EQ(run_cli("grid --heads 0,1 abcab --force -o " + scratch("list_grid.svg").string()).code, 0);
  EXPECT_EQ(run_cli("heatmap --compare abd --compare abe abc --force -o " + scratch("list_cmp.svg").string()).code, 0);
  // Two texts after one --compare: the second is not taken as a compared prompt in silence.
  const Result extra = run_cli("heatmap --compare abd abe abc --force -o " + scratch("list_cmp2.svg").string());
  EXPECT_EQ(extra.code, 2);
  EXPECT_NE(extra.out.find("abc"), std::string::npos) << extra.out;
}
