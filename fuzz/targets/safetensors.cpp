// safetensors: header length, JSON header, tensor table, and every tensor's data as float.
#include "formats/safetensors.h"

#include "harness.h"

namespace attnscope::fuzz {

int safetensors(const uint8_t* data, size_t size) {
  const std::string path = scratch_file("model.safetensors", {reinterpret_cast<const char*>(data), size});
  expect_clean([&] {
    const SafetensorsFile f = SafetensorsFile::open(path);
    for (const auto& t : f.tensors()) (void)f.load_tensor(t.name);
  });
  return 0;
}

}  // namespace attnscope::fuzz
