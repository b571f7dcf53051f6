// Hugging Face config.json -> ModelConfig (through the public parser entry point).
#include "harness.h"
#include "model/hf_checkpoint.h"

namespace attnscope::fuzz {

int hf_config(const uint8_t* data, size_t size) {
  expect_clean([&] { (void)parse_hf_config(std::string(reinterpret_cast<const char*>(data), size), "config.json"); });
  return 0;
}

}  // namespace attnscope::fuzz
