// Hugging Face checkpoint directory -> Model::Impl (config.json, safetensors, tokenizer files).
#include <filesystem>

#include "attnscope/error.h"
#include "attnscope/hub.h"
#include "model/hf_checkpoint.h"
#include "model/loaders.h"

namespace attnscope::detail {
namespace fs = std::filesystem;

namespace {
// The checkpoint's own tokenizer, if it ships one Tokenizer::from_path can read.
bool has_tokenizer_files(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "tokenizer.json", ec) ||
         (fs::exists(dir / "vocab.json", ec) && fs::exists(dir / "merges.txt", ec)) ||
         (fs::exists(dir / "encoder.json", ec) && fs::exists(dir / "vocab.bpe", ec)) ||
         fs::exists(dir / "tokenizer.model", ec);
}
}  // namespace

std::shared_ptr<Model::Impl> load_hf_checkpoint(const std::string& dir, const LoadOptions& options) {
  // float32: every weight decoded once (the exact reference path). Otherwise F16/BF16 and MLX
  // matrices stay in their stored type (views of the mapping; F32 matrices take the exact product).
  HfCheckpoint ck = read_hf_checkpoint(dir, options.dtype, options.mmap);
  auto impl = std::make_shared<Model::Impl>();
  impl->config = ck.hf.model;
  impl->weights = std::move(ck.weights);
  impl->matrices = std::move(ck.matrices);
  impl->dtype = ck.dtype;
  impl->source = dir;
  if (!options.tokenizer.empty()) {
    impl->tokenizer = Tokenizer::from_path(options.tokenizer);
  } else if (has_tokenizer_files(dir)) {
    impl->tokenizer = Tokenizer::from_path(dir);
  }
  finalize_model(*impl);
  return impl;
}

// Model::load's hook for "org/name[@rev]".
std::string resolve_hub_model(const std::string& name) { return hub::download_model(name); }

}  // namespace attnscope::detail
