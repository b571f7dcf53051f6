// Hugging Face tokenizer.json, with the tokenizer_config.json after the split marker when there
// is one, loaded through Tokenizer::from_path on a directory holding them.
#include <filesystem>

#include "harness.h"
#include "tokenizer_common.h"

namespace attnscope::fuzz {

int tokenizer_json(const uint8_t* data, size_t size) {
  const auto [tj, cfg] = split_input({reinterpret_cast<const char*>(data), size});
  const std::string dir = cfg.empty() ? "tj_alone" : "tj_config";
  const std::string path = scratch_file(dir + "/tokenizer.json", tj);
  if (!cfg.empty()) scratch_file(dir + "/tokenizer_config.json", cfg);
  expect_clean([&] {
    const auto tok = Tokenizer::from_path(std::filesystem::path(path).parent_path().string());
    exercise_tokenizer(*tok, "Hello world! <|begin_of_text|> \xC3\xA9t\xC3\xA9 12345\n\t<s>");
  });
  return 0;
}

}  // namespace attnscope::fuzz
