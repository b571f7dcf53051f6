// GGUF -> Model::Impl: the family from general.architecture, its config from the metadata under
// that prefix, weights by their GGUF names (F32 tensors are zero-copy views of the mapping, others
// are dequantised to float32 once). finalize_model checks them against the family's table.
#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "model/arch.h"
#include "model/loaders.h"

namespace attnscope::detail {

ModelConfig config_from_gguf(const GgufFile& f) {
  auto arch_name = f.get_string("general.architecture");
  if (!arch_name) fail(ErrorKind::Format, f.path() + ": no 'general.architecture' metadata");
  const ArchSpec& arch = arch_for_gguf(*arch_name, f.path());
  ModelConfig c;
  c.arch = arch.name;
  arch.from_gguf(GgufKeys(f, *arch_name + "."), c);
  return c;
}

std::shared_ptr<Model::Impl> load_gguf_model(const std::string& path, const LoadOptions& options) {
  auto file = std::make_shared<GgufFile>(GgufFile::open(path));
  auto impl = std::make_shared<Model::Impl>();
  impl->config = config_from_gguf(*file);
  impl->source = path;
  for (const auto& info : file->tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // folded into the config
    impl->weights.emplace(info.name, file->load_tensor(info.name));
  }
  impl->keepalive.push_back(file);  // F32 weights are views of its mapping
  if (!options.tokenizer.empty()) {
    impl->tokenizer = Tokenizer::from_path(options.tokenizer);
  } else if (file->has("tokenizer.ggml.model")) {
    impl->tokenizer = Tokenizer::from_gguf(*file);
  }
  finalize_model(*impl);
  return impl;
}

}  // namespace attnscope::detail
