// GGUF files of architecture "gpt2" (llama.cpp's converter layout) -> Model::Impl.
#include <filesystem>

#include "attnscope/error.h"
#include "model/forward_gpt2.h"
#include "model/loaders.h"

namespace attnscope::detail {

namespace {
int gguf_int(const GgufFile& f, const std::string& key, int64_t lo, int64_t hi, std::optional<int64_t> dflt = {}) {
  std::optional<int64_t> v = f.has(key) ? f.get_int(key) : dflt;
  if (!v) fail(ErrorKind::Format, f.path() + ": metadata key '" + key + "' is missing");
  if (*v < lo || *v > hi)
    fail(ErrorKind::Format, f.path() + ": metadata '" + key + "' = " + std::to_string(*v) + " is out of range");
  return static_cast<int>(*v);
}
}  // namespace

ModelConfig config_from_gguf_gpt2(const GgufFile& f) {
  ModelConfig c;
  c.arch = "gpt2";
  c.family = ArchFamily::Gpt2;
  c.name = f.get_string("general.name").value_or(std::filesystem::path(f.path()).stem().string());
  constexpr int64_t kMax = 1 << 20;
  c.n_layer = gguf_int(f, "gpt2.block_count", 1, 10000);
  c.n_embd = gguf_int(f, "gpt2.embedding_length", 1, kMax);
  c.n_ff = gguf_int(f, "gpt2.feed_forward_length", 1, 16 * kMax, 4 * int64_t{c.n_embd});
  c.n_head = gguf_int(f, "gpt2.attention.head_count", 1, 65536);
  c.n_head_kv = c.n_head;
  if (c.n_embd % c.n_head != 0) fail(ErrorKind::Format, f.path() + ": embedding_length is not a multiple of head_count");
  c.head_dim = c.n_embd / c.n_head;
  c.rope_dim = 0;
  c.n_ctx = gguf_int(f, "gpt2.context_length", 1, INT32_MAX, 1024);
  c.norm = NormKind::LayerNorm;
  c.act = Activation::GeluTanh;
  c.qkv_bias = c.out_bias = true;
  if (auto eps = f.has("gpt2.attention.layer_norm_epsilon") ? f.get_float("gpt2.attention.layer_norm_epsilon")
                                                             : std::nullopt)
    c.norm_eps = static_cast<float>(*eps);
  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (!embd || embd->ne.size() != 2 || embd->ne[0] != c.n_embd)
    fail(ErrorKind::Format, f.path() + ": tensor 'token_embd.weight' is missing or not [n_vocab, n_embd]");
  c.n_vocab = static_cast<int>(embd->ne[1]);
  c.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  return c;
}

std::shared_ptr<Model::Impl> load_gguf_gpt2(const std::string& path, const LoadOptions& options) {
  auto file = std::make_shared<GgufFile>(GgufFile::open(path));
  auto impl = std::make_shared<Model::Impl>();
  impl->config = config_from_gguf_gpt2(*file);
  impl->source = path;
  for (const auto& info : file->tensors()) impl->weights.emplace(info.name, file->load_tensor(info.name));
  impl->keepalive.push_back(file);
  if (!options.tokenizer.empty()) {
    impl->tokenizer = Tokenizer::from_path(options.tokenizer);
  } else if (file->has("tokenizer.ggml.model")) {
    impl->tokenizer = Tokenizer::from_gguf(*file);
  }
  prepare_gpt2(*impl);
  finalize_model(*impl);
  return impl;
}

}  // namespace attnscope::detail
