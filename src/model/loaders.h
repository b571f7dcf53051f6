// Model loaders, one per source kind. Model::load picks one; each returns a finalized Impl.
#pragma once
#include <memory>
#include <string>

#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "model/model_impl.h"

namespace attnscope::detail {

// A GGUF file (src/model/load_gguf.cpp).
std::shared_ptr<Model::Impl> load_gguf_model(const std::string& path, const LoadOptions& options);
// ModelConfig from GGUF metadata (+ the rope_freqs tensor); Unsupported naming an unknown
// architecture.
ModelConfig config_from_gguf(const GgufFile& file);

// LoadOptions::dtype resolved for a model whose weights take `decoded_bytes` as float32:
// "auto" is float32 up to 1 GiB. InvalidArgument for an unknown name.
ComputeDtype resolve_dtype(const std::string& requested, uint64_t decoded_bytes);

// How a model's stored weights are held (FileBacking): Memory unless `mmap` or the file would
// take more than 3/4 of the memory available (MemAvailable); then Mapped, so that a model larger
// than memory still runs, from the page cache.
FileBacking weight_backing(bool mmap, uint64_t file_bytes);

// Format error naming `source` and the tensor when `shape` has no elements. Called on every stored
// tensor before any is decoded: no weight is empty, and an empty tensor's other dimensions size
// work that no byte in the file bounds ([10^12, 0] is 0 bytes but 10^12 rows: a fuzzing finding).
void refuse_empty_weight(const std::string& source, const std::string& name, const Shape& shape);

// A Hugging Face checkpoint directory (config.json + *.safetensors [+ tokenizer files]),
// src/model/load_hf.cpp.
std::shared_ptr<Model::Impl> load_hf_checkpoint(const std::string& dir, const LoadOptions& options);
// "org/name[@rev]" -> a local checkpoint directory, downloading into the cache if needed
// (hub::download_model, src/model/load_hf.cpp).
std::string resolve_hub_model(const std::string& name);

}  // namespace attnscope::detail
