// GGUF reader (header, metadata, tensor table, tensor data) and Model::load on the result: a
// loaded model also runs two tokens through its forward pass.
#include <algorithm>

#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "harness.h"

namespace attnscope::fuzz {

int gguf_model(const uint8_t* data, size_t size) {
  expect_clean([&] {
    const GgufFile f = GgufFile::open_memory(std::vector<uint8_t>(data, data + size), "fuzz.gguf");
    for (const auto& t : f.tensors()) (void)f.load_tensor(t.name);
  });
  const std::string path = scratch_file("model.gguf", {reinterpret_cast<const char*>(data), size});
  expect_clean([&] {
    LoadOptions opt;
    opt.threads = 1;
    const Model m = Model::load(path, opt);
    const int32_t v = m.config().n_vocab;
    (void)m.run(std::vector<int32_t>{0, std::max(0, v - 1)});
  });
  return 0;
}

}  // namespace attnscope::fuzz
