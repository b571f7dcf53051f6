// A corpus of stories260K samples made by the model itself with the sampler (nothing large is
// committed): prompt i is a sampled continuation of BOS (T = 1, top_k = 40, seed i) of 6..45
// tokens, on one line.
#pragma once
#include <fstream>
#include <string>
#include <vector>

#include "attnscope/model.h"

namespace test_corpus {

inline std::vector<std::string> stories_prompts(const attnscope::Model& model, int n) {
  std::vector<std::string> out;
  for (uint64_t seed = 0; static_cast<int>(out.size()) < n; ++seed) {
    attnscope::GenerateOptions o;
    o.temperature = 1.0;
    o.top_k = 40;
    o.seed = seed;
    o.max_tokens = 6 + static_cast<int>(seed * 7 % 40);
    std::string text = model.generate(std::string_view(""), o).text;
    for (char& c : text)
      if (c == '\n' || c == '\r') c = ' ';
    const size_t a = text.find_first_not_of(' ');
    if (a == std::string::npos) continue;  // EOS at once: nothing to scan
    out.push_back(text.substr(a));
  }
  return out;
}

inline void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream f(path, std::ios::binary);
  for (const auto& l : lines) f << l << "\n";
}

}  // namespace test_corpus
