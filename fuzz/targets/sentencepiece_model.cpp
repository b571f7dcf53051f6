// SentencePiece tokenizer.model (protobuf ModelProto).
#include "harness.h"
#include "tokenizer_common.h"

namespace attnscope::fuzz {

int sentencepiece_model(const uint8_t* data, size_t size) {
  const std::string path = scratch_file("spm/tokenizer.model", {reinterpret_cast<const char*>(data), size});
  expect_clean([&] {
    const auto tok = Tokenizer::from_path(path);
    exercise_tokenizer(*tok, "Hello world! \xC3\xA9t\xC3\xA9 12345\n\t<s> \xE2\x96\x81x");
  });
  return 0;
}

}  // namespace attnscope::fuzz
