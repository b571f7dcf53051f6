// GGUF -> Model::Impl: architecture hyperparameters from metadata, weights by their GGUF names
// (F32 tensors are zero-copy views of the mapping, others are dequantised to float32 once).
#include <cmath>
#include <filesystem>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "model/forward_gpt2.h"
#include "formats/load_progress.h"
#include "model/loaders.h"

namespace attnscope::detail {

namespace {

int checked_int(const GgufFile& f, const std::string& key, std::optional<int64_t> fallback, int64_t lo, int64_t hi) {
  std::optional<int64_t> v = f.has(key) ? f.get_int(key) : fallback;
  if (!v) fail(ErrorKind::Format, f.path() + ": metadata key '" + key + "' is missing");
  if (*v < lo || *v > hi)
    fail(ErrorKind::Format, f.path() + ": metadata '" + key + "' = " + std::to_string(*v) + " is out of range [" +
                                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int>(*v);
}

}  // namespace

ModelConfig config_from_gguf(const GgufFile& f) {
  ModelConfig c;
  auto arch = f.get_string("general.architecture");
  if (!arch) fail(ErrorKind::Format, f.path() + ": no 'general.architecture' metadata");
  if (*arch == "gpt2") return config_from_gguf_gpt2(f);
  c.arch = *arch;
  if (c.arch == "llama" || c.arch == "mistral") {
    c.rope_layout = RopeLayout::Interleaved;
  } else if (c.arch == "qwen2") {
    c.rope_layout = RopeLayout::NeoX;
  } else {
    fail(ErrorKind::Unsupported, f.path() + ": architecture '" + c.arch +
                                     "' is not supported (supported GGUF architectures: llama, mistral, qwen2, gpt2)");
  }
  c.family = ArchFamily::Llama;
  c.norm = NormKind::RMSNorm;
  c.act = Activation::SwiGLU;
  c.name = f.get_string("general.name").value_or(std::filesystem::path(f.path()).stem().string());
  const std::string a = c.arch + ".";
  constexpr int64_t kMaxDim = 1 << 20;
  c.n_layer = checked_int(f, a + "block_count", std::nullopt, 1, 10000);
  c.n_embd = checked_int(f, a + "embedding_length", std::nullopt, 1, kMaxDim);
  c.n_ff = checked_int(f, a + "feed_forward_length", std::nullopt, 1, 16 * kMaxDim);
  c.n_head = checked_int(f, a + "attention.head_count", std::nullopt, 1, 65536);
  c.n_head_kv = checked_int(f, a + "attention.head_count_kv", c.n_head, 1, c.n_head);
  if (c.n_head % c.n_head_kv != 0)
    fail(ErrorKind::Format, f.path() + ": head_count " + std::to_string(c.n_head) +
                                " is not a multiple of head_count_kv " + std::to_string(c.n_head_kv));
  c.head_dim = checked_int(f, a + "attention.key_length", c.n_embd / c.n_head, 1, kMaxDim);
  c.rope_dim = checked_int(f, a + "rope.dimension_count", c.head_dim, 0, c.head_dim);
  if (c.rope_dim % 2 != 0) fail(ErrorKind::Format, f.path() + ": rope.dimension_count must be even");
  c.n_ctx = checked_int(f, a + "context_length", 0, 0, INT32_MAX);
  if (auto base = f.has(a + "rope.freq_base") ? f.get_float(a + "rope.freq_base") : std::nullopt) {
    if (!(*base > 0) || !std::isfinite(*base)) fail(ErrorKind::Format, f.path() + ": rope.freq_base must be positive");
    c.rope_base = static_cast<float>(*base);
  }
  if (auto eps = f.has(a + "attention.layer_norm_rms_epsilon") ? f.get_float(a + "attention.layer_norm_rms_epsilon")
                                                               : std::nullopt) {
    if (!(*eps >= 0) || !std::isfinite(*eps)) fail(ErrorKind::Format, f.path() + ": rms epsilon must be >= 0");
    c.norm_eps = static_cast<float>(*eps);
  }
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd) fail(ErrorKind::Format, f.path() + ": tensor 'token_embd.weight' is missing");
  if (embd->ne.size() != 2 || embd->ne[0] != c.n_embd)
    fail(ErrorKind::Format, f.path() + ": token_embd.weight has " + std::to_string(embd->ne.size()) +
                                " dims / row length " + std::to_string(embd->ne.empty() ? 0 : embd->ne[0]) +
                                ", expected [n_vocab, " + std::to_string(c.n_embd) + "]");
  c.n_vocab = static_cast<int>(embd->ne[1]);
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  c.qkv_bias = f.find_tensor("blk.0.attn_q.bias") != nullptr;

  // RoPE scaling: llama3 stores per-frequency divisors in the rope_freqs tensor; "linear"
  // scaling (positions / factor) is the same thing with one divisor for every frequency.
  if (const GgufTensorInfo* rf = f.find_tensor("rope_freqs.weight")) {
    if (rf->numel() != c.rope_dim / 2)
      fail(ErrorKind::Format, f.path() + ": rope_freqs.weight has " + std::to_string(rf->numel()) +
                                  " entries, expected rope_dim/2 = " + std::to_string(c.rope_dim / 2));
    const Tensor t = f.load_tensor("rope_freqs.weight");
    c.rope_freq_factors.assign(t.data(), t.data() + t.numel());
    for (float v : c.rope_freq_factors)
      if (!(v > 0) || !std::isfinite(v)) fail(ErrorKind::Format, f.path() + ": rope_freqs.weight has a non-positive entry");
  }
  if (auto type = f.has(a + "rope.scaling.type") ? f.get_string(a + "rope.scaling.type") : std::nullopt) {
    if (*type == "linear") {
      double factor = f.get_float(a + "rope.scaling.factor").value_or(1.0);
      if (!(factor > 0) || !std::isfinite(factor)) fail(ErrorKind::Format, f.path() + ": rope.scaling.factor must be positive");
      if (c.rope_freq_factors.empty()) c.rope_freq_factors.assign(static_cast<size_t>(c.rope_dim / 2), 1.0f);
      for (float& v : c.rope_freq_factors) v *= static_cast<float>(factor);
    } else if (*type != "none") {
      fail(ErrorKind::Unsupported, f.path() + ": rope scaling type '" + *type + "' is not supported");
    }
  }
  return c;
}

std::shared_ptr<Model::Impl> load_gguf_model(const std::string& path, const LoadOptions& options) {
  auto file = std::make_shared<GgufFile>(GgufFile::open(path));
  if (file->get_string("general.architecture") == std::optional<std::string>("gpt2"))
    return load_gguf_gpt2(path, options);  // LayerNorm / learned positions: its own loader
  auto impl = std::make_shared<Model::Impl>();
  impl->config = config_from_gguf(*file);
  impl->source = path;
  uint64_t decoded = 0, stored = 0;
  for (const auto& info : file->tensors()) {
    decoded += static_cast<uint64_t>(info.numel()) * 4;
    stored += info.nbytes;
  }
  impl->dtype = resolve_dtype(options.dtype, decoded);
  // float32: every weight decoded once (the exact reference path). bfloat16: 2-d weights stay
  // views of the mapping in their stored type.
  const bool keep_stored = impl->dtype != ComputeDtype::Float32;
  LoadProgress progress(std::filesystem::path(path).filename().string(), keep_stored ? 0 : stored);
  for (const auto& info : file->tensors()) {
    if (info.name == "rope_freqs.weight") continue;  // folded into the config
    const Shape shape = info.shape();
    if (shape.size() == 2 && info.type != GgmlType::F32) {
      StoredWeight w = StoredWeight::gguf(info.type, shape[0], shape[1], info.data, std::shared_ptr<const void>(file, file.get()));
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
  } else if (file->has("tokenizer.ggml.model")) {
    impl->tokenizer = Tokenizer::from_gguf(*file);
  }
  finalize_model(*impl);
  return impl;
}

}  // namespace attnscope::detail
