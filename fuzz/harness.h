// Shared by the fuzz targets (fuzz/targets/*.cpp), the libFuzzer executables and the regression
// test that replays fuzz/corpus and fuzz/regressions in the normal suite.
//
// Every target takes untrusted bytes and feeds them to one parser. attnscope::Error is the
// expected outcome for bad input and is swallowed; anything else (another exception type, a
// sanitizer report, a timeout, a huge allocation) is a bug the fuzzer reports.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace attnscope::fuzz {

// Separates the files of a multi-file input (tokenizer.json + tokenizer_config.json, vocab +
// merges); fuzz/make_seeds.py writes seeds with it.
inline constexpr std::string_view kSplit = "\n--attnscope-fuzz-split--\n";

// (first, second): the input cut at the first kSplit; second is empty when there is none.
std::pair<std::string_view, std::string_view> split_input(std::string_view data);

// Writes bytes to `name` inside this process's scratch directory ($TMPDIR/attnscope-fuzz-<pid>,
// removed by exit(); libFuzzer ends with _Exit, so run_campaign.sh removes it after a run) and
// returns the full path; parsers that only take paths read it from there.
std::string scratch_file(const std::string& name, std::string_view bytes);

// Runs `body` and swallows attnscope::Error (the documented outcome for bad input).
template <class F>
void expect_clean(F&& body);

using Entry = int (*)(const uint8_t* data, size_t size);
struct Target {
  const char* name;  // = the directory under fuzz/corpus and fuzz/regressions
  Entry entry;
};
// Every target, for the regression test.
const std::vector<Target>& targets();

int gguf_model(const uint8_t* data, size_t size);
int safetensors(const uint8_t* data, size_t size);
int hf_config(const uint8_t* data, size_t size);
int tokenizer_json(const uint8_t* data, size_t size);
int sentencepiece_model(const uint8_t* data, size_t size);
int bpe_files(const uint8_t* data, size_t size);
int patterns_json(const uint8_t* data, size_t size);
int tokenizer_encode(const uint8_t* data, size_t size);

}  // namespace attnscope::fuzz

#include "attnscope/error.h"

template <class F>
void attnscope::fuzz::expect_clean(F&& body) {
  try {
    body();
  } catch (const attnscope::Error&) {
  }
}
