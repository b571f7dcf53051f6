// The model commands of the attnscope executable: info, tokens, generate, trace (text and
// --json output, .npz files numpy reads, and clear errors with a non-zero exit).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "common/cli_runner.h"

namespace {

using test_cli::Result;
Result run(const std::string& args, bool with_stderr = true) { return test_cli::run_cli(args, with_stderr); }
nlohmann::json run_json(const std::string& args) { return test_cli::run_cli_json(args); }

const std::string kStories = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";

}  // namespace

TEST(Cli, InfoShowsTheConfig) {
  auto j = run_json("info -m " + kStories);
  EXPECT_EQ(j["model"]["arch"], "llama");
  EXPECT_EQ(j["model"]["n_layer"], 5);
  EXPECT_EQ(j["model"]["n_head_kv"], 4);
  EXPECT_EQ(j["model"]["parameters"], 292800);
  EXPECT_EQ(j["file"]["gguf_version"], 3);
  EXPECT_EQ(j["file"]["tensor_count"], 48);
  EXPECT_EQ(j["tokenizer"]["vocab_size"], 512);
  Result text = run("info -m " + kStories);
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("heads:       8 (kv heads 4, head dim 8)"), std::string::npos) << text.out;
}

TEST(Cli, TokensGivesIdsAndStrings) {
  auto j = run_json("tokens -m " + kStories + " \"Once upon a time\"");
  EXPECT_EQ(j["ids"], nlohmann::json({1, 403, 407, 261, 378}));
  EXPECT_EQ(j["tokens"][1], " Once");
  auto d = run_json("tokens -m " + kStories + " --ids 403,407");
  EXPECT_EQ(d["text"], "Once upon");
}

// -m may name a tokenizer file alone; the ids are the llama.cpp test vectors' for these strings
// ("Hello world" in ggml-vocab-llama-bpe.gguf.out and ggml-vocab-gpt-2.gguf.out).
TEST(Cli, TokensReadsTokenizerFilesWithoutAModel) {
  const std::string m = ATTNSCOPE_MODELS_DIR;
  auto llama3 = run_json("tokens -m " + m + "/tokenizers/llama3/tokenizer.json \"Hello world\"");
  EXPECT_EQ(llama3["ids"], nlohmann::json({128000, 9906, 1917}));
  auto gpt2 = run_json("tokens -m " + m + "/llama.cpp-vocab/ggml-vocab-gpt-2.gguf \"Hello world\"");
  EXPECT_EQ(gpt2["ids"], nlohmann::json({15496, 995}));
  auto bpe = run_json("tokens -m " + m + "/tokenizers/gpt2 \"Hello world\"");
  EXPECT_EQ(bpe["ids"], gpt2["ids"]);
}

// A checkpoint without tokenizer files takes one from elsewhere with --tokenizer.
TEST(Cli, TokenizerOptionLendsATokenizerToACheckpoint) {
  const std::string m = ATTNSCOPE_MODELS_DIR;
  Result without = run("generate -m " + m + "/safetensors/stories260K-hf -n 4");
  EXPECT_NE(without.code, 0);
  auto j = run_json("generate -m " + m + "/safetensors/stories260K-hf --tokenizer " + kStories + " -n 64 -t 1");
  const std::string text = j["text"];
  EXPECT_NE(text.find("Once upon a time, there was a little girl named Lily."), std::string::npos) << text;
}

TEST(Cli, GenerateFromBosTellsTheStory) {
  auto j = run_json("generate -m " + kStories + " -n 64 -t 1");
  const std::string text = j["text"];
  EXPECT_NE(text.find("Once upon a time, there was a little girl named Lily."), std::string::npos) << text;
  EXPECT_EQ(j["prompt_tokens"], nlohmann::json({1}));
  EXPECT_EQ(j["new_tokens"].size(), 64u);
}

TEST(Cli, TraceWritesAnNpzNumpyReads) {
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  const std::string out =
      (std::filesystem::temp_directory_path() / ("attnscope_cli_" + std::to_string(::getpid()) + ".npz")).string();
  auto j = run_json("trace -m " + kStories + " \"Once upon a time there was\" -o " + out + " --layers 0,3");
  EXPECT_EQ(j["captured"].size(), 2u);
  EXPECT_EQ(j["captured"]["blocks.3.attn.hook_pattern"], nlohmann::json({1, 8, 7, 7}));
  std::string cmd = "/usr/bin/python3 -c \"import numpy as np; d=np.load('" + out +
                    "'); p=d['blocks.0.attn.hook_pattern']; print(sorted(d.files)); print(p.shape, "
                    "abs(p.sum(-1)-1).max()<1e-5, (np.triu(p[0,0],1)==0).all()); print(list(d['str_tokens'][0][:2]))\"";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[4096];
  std::string pyout;
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) pyout.append(buf, n);
  pclose(p);
  EXPECT_EQ(pyout,
            "['blocks.0.attn.hook_pattern', 'blocks.3.attn.hook_pattern', 'capture_dtype', 'compute_dtype', "
            "'str_tokens', 'tokens']\n"
            "(1, 8, 7, 7) True True\n['<s>', ' Once']\n");
  std::filesystem::remove(out);
}

TEST(Cli, HelpAndErrors) {
  for (const char* cmd : {"info", "tokens", "generate", "trace"}) {
    Result r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("--json"), std::string::npos) << cmd;
    EXPECT_NE(r.out.find("--threads"), std::string::npos) << cmd;
  }
  Result missing = run("info -m /nonexistent.gguf");
  EXPECT_NE(missing.code, 0);
  EXPECT_NE(missing.out.find("/nonexistent.gguf"), std::string::npos) << missing.out;
  Result bad_capture = run("trace -m " + kStories + " hello --capture blocks.0.attn.hook_bogus");
  EXPECT_NE(bad_capture.code, 0);
  EXPECT_NE(bad_capture.out.find("hook_bogus"), std::string::npos) << bad_capture.out;
  Result bad_id = run("trace -m " + kStories + " --ids 1,600");
  EXPECT_NE(bad_id.code, 0);
  EXPECT_NE(bad_id.out.find("600"), std::string::npos) << bad_id.out;
  Result empty = run("trace -m " + kStories + " --no-bos \"\"");
  EXPECT_NE(empty.code, 0);
  EXPECT_NE(empty.out.find("empty"), std::string::npos) << empty.out;
}
