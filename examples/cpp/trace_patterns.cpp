// Loads a model, traces a prompt and prints every layer's attention pattern shape with how far
// its rows are from summing to 1. Usage: trace_patterns MODEL TEXT
#include <attnscope/error.h>
#include <attnscope/model.h>

#include <algorithm>
#include <cmath>
#include <iostream>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: trace_patterns MODEL TEXT\n";
    return 2;
  }
  try {
    const auto model = attnscope::Model::load(argv[1]);
    const auto trace = model.run(argv[2], {.capture = {"blocks.*.attn.hook_pattern"}});
    for (const auto& [layer, p] : trace.attention_patterns()) {  // [batch, heads, q, k]
      const int64_t k = p.dim(-1), rows = p.numel() / k;
      double worst = 0;
      for (int64_t r = 0; r < rows; ++r) {
        double sum = 0;
        for (int64_t j = 0; j < k; ++j) sum += p.data()[r * k + j];
        worst = std::max(worst, std::abs(sum - 1));
      }
      std::cout << "layer " << layer << " " << p.shape_str() << " max |row sum - 1| " << worst << "\n";
    }
  } catch (const attnscope::Error& e) {
    std::cerr << "trace_patterns: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
