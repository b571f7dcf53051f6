// GGUF -> Model::Impl: the family from general.architecture, its config from the metadata under
// that prefix, weights by their GGUF names (F32 tensors are zero-copy views of the mapping; other
// matrices stay views in their stored type for dtype bfloat16, or are decoded to float32 once).
// finalize_model checks them against the family's table.
#include <filesystem>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "formats/load_progress.h"
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
  uint64_t decoded = 0, stored = 0;
  for (const auto& info : file->tensors()) {
    refuse_empty_weight(path, info.name, info.shape());
    decoded += static_cast<uint64_t>(info.numel()) * 4;
    stored += info.nbytes;
  }
  impl->dtype = resolve_dtype(options.dtype, decoded);
  // float32: every weight decoded once (the exact reference path). bfloat16: 2-d weights stay
  // views of the file's bytes in their stored type, read on every run: in memory unless mapped.
  const bool keep_stored = impl->dtype != ComputeDtype::Float32;
  if (keep_stored && weight_backing(options.mmap, file->file_size()) == FileBacking::Memory)
    file = std::make_shared<GgufFile>(GgufFile::open(path, FileBacking::Memory));
  LoadProgress progress(std::filesystem::path(path).filename().string(), keep_stored ? 0 : stored);
  for (const auto& info : file->tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // folded into the config
    const Shape shape = info.shape();
    if (shape.size() == 2) impl->stored_types.insert(ggml_type_name(info.type));
    if (shape.size() == 2 && info.type != GgmlType::F32) {
      StoredWeight w =
          StoredWeight::gguf(info.type, shape[0], shape[1], info.data, std::shared_ptr<const void>(file, file.get()));
      if (keep_stored)
        impl->matrices.emplace(info.name, std::move(w));
      else
        impl->weights.emplace(info.name, w.to_tensor());  // SIMD decoders on all threads, same values
    } else {
      impl->weights.emplace(info.name, file->load_tensor(info.name));
    }
    progress.advance(info.nbytes);
  }
  impl->keepalive.push_back(file);  // F32 weights and stored matrices are views of its mapping
  if (!options.tokenizer.empty()) {
    impl->tokenizer = Tokenizer::from_path(options.tokenizer);
  } else if (const auto kind = file->get_string("tokenizer.ggml.model"); kind && *kind != "no_vocab") {
    impl->tokenizer = Tokenizer::from_gguf(*file);  // "no_vocab": llama.cpp's word for none
  }
  finalize_model(*impl);
  return impl;
}

}  // namespace attnscope::detail
