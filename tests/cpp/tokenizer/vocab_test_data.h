// Helpers shared by the tokenizer tests: llama.cpp's vocabulary test vectors and cached
// tokenizers (the big tokenizer.json files take a moment to parse, so each is loaded once).
#pragma once
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "attnscope/gguf.h"
#include "attnscope/tokenizer.h"

namespace tokenizer_test {

inline std::string models_dir() { return ATTNSCOPE_MODELS_DIR; }
inline std::string vocab_dir() { return models_dir() + "/llama.cpp-vocab"; }

inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

// The strings of `<name>.inp` (each followed by "\n__ggml_vocab_test__\n") with the ids of the
// matching line of `<name>.out`.
inline std::vector<Case> load_cases(const std::string& name) {
  const std::string inp = read_file(vocab_dir() + "/ggml-vocab-" + name + ".gguf.inp");
  const std::string out = read_file(vocab_dir() + "/ggml-vocab-" + name + ".gguf.out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  size_t pos = 0;
  while (pos < inp.size()) {
    size_t hit = inp.find(sep, pos);
    if (hit == std::string::npos) hit = inp.size();
    cases.push_back({inp.substr(pos, hit - pos), {}});
    pos = hit + sep.size();
  }
  std::istringstream lines(out);
  std::string line;
  size_t i = 0;
  while (std::getline(lines, line) && i < cases.size()) {
    std::istringstream ids(line);
    int32_t id;
    while (ids >> id) cases[i].ids.push_back(id);
    ++i;
  }
  cases.resize(i);
  return cases;
}

// Cached tokenizers by path (loaded once per test process).
inline const attnscope::Tokenizer& tok(const std::string& rel) {
  static std::map<std::string, std::unique_ptr<attnscope::Tokenizer>> cache;
  auto& slot = cache[rel];
  if (!slot) slot = attnscope::Tokenizer::from_path(models_dir() + "/" + rel);
  return *slot;
}

// How many cases encode (no BOS, special tokens not parsed) to exactly the expected ids;
// the first few mismatches are appended to `report`.
inline int count_matches(const attnscope::Tokenizer& t, const std::vector<Case>& cases, std::string& report) {
  int ok = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto got = t.encode(cases[i].text, false, false);
    if (got == cases[i].ids) {
      ++ok;
    } else if (report.size() < 4000) {
      report += "case " + std::to_string(i) + " '" + cases[i].text.substr(0, 60) + "': got";
      for (auto id : got) report += " " + std::to_string(id);
      report += " expected";
      for (auto id : cases[i].ids) report += " " + std::to_string(id);
      report += "\n";
    }
  }
  return ok;
}

}  // namespace tokenizer_test
