// GPT-2 style vocabulary + merges: vocab.json + merges.txt, or encoder.json + vocab.bpe (which
// pair is picked by the input length's parity, so both names reach the loader).
#include "harness.h"
#include "tokenizer_common.h"

namespace attnscope::fuzz {

int bpe_files(const uint8_t* data, size_t size) {
  const auto [vocab, merges] = split_input({reinterpret_cast<const char*>(data), size});
  const bool gpt2_names = size % 2 == 0;
  const std::string dir = gpt2_names ? "bpe_gpt2" : "bpe_hf";
  const std::string vpath = scratch_file(dir + (gpt2_names ? "/encoder.json" : "/vocab.json"), vocab);
  scratch_file(dir + (gpt2_names ? "/vocab.bpe" : "/merges.txt"), merges);
  expect_clean([&] {
    const auto tok = Tokenizer::from_path(vpath);
    exercise_tokenizer(*tok, "Hello world! \xC3\xA9t\xC3\xA9 12345\n\t<|endoftext|>");
  });
  return 0;
}

}  // namespace attnscope::fuzz
