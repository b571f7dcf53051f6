// Model: loading dispatch, input checks, and the run entry points.
#include "attnscope/model.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "attnscope/error.h"
#include "model/hooks.h"
#include "model/loaders.h"
#include "model/model_impl.h"
#include "model/toy_model.h"
#include "tensor/ops.h"

namespace attnscope {

const Tensor* Model::Impl::find_weight(const std::string& name) const {
  auto it = weights.find(name);
  if (it != weights.end()) return &it->second;
  auto m = matrices.find(name);
  if (m == matrices.end()) return nullptr;
  std::lock_guard<std::mutex> lock(decoded_mutex_);
  auto d = decoded_.find(name);
  if (d == decoded_.end()) d = decoded_.emplace(name, m->second.to_tensor()).first;
  return &d->second;
}

StoredWeight Model::Impl::matrix(const std::string& name) const {
  auto m = matrices.find(name);
  if (m != matrices.end()) return m->second;
  return StoredWeight::from_tensor(weight(name));
}

void Model::Impl::linear(const float* x, int64_t rows, const std::string& name, const float* bias, float* y,
                         bool accumulate) const {
  auto m = matrices.find(name);
  if (m != matrices.end()) {
    attnscope::linear(x, rows, m->second, bias, y, accumulate, dtype);
  } else {
    const Tensor& w = weight(name);
    ops::linear(x, rows, w.dim(1), w.data(), w.dim(0), bias, y, accumulate);
  }
}

Shape Model::Impl::weight_shape(const std::string& name) const {
  auto m = matrices.find(name);
  if (m != matrices.end()) return {m->second.rows, m->second.cols};
  auto it = weights.find(name);
  return it == weights.end() ? Shape{} : it->second.shape();
}

const Tensor& Model::Impl::weight(const std::string& name) const {
  const Tensor* t = find_weight(name);
  if (!t) fail(ErrorKind::NotFound, source + ": weight '" + name + "' is missing");
  return *t;
}

namespace detail {

ComputeDtype resolve_dtype(const std::string& requested, uint64_t decoded_bytes) {
  if (requested == "auto" || requested.empty())
    return decoded_bytes <= (uint64_t{1} << 30) ? ComputeDtype::Float32 : ComputeDtype::BFloat16;
  try {
    return parse_compute_dtype(requested);
  } catch (const Error&) {
    fail(ErrorKind::InvalidArgument, "unknown dtype '" + requested + "' (choose auto, float32 or bfloat16)");
  }
}

void finalize_model(Model::Impl& impl) {
  ModelConfig& c = impl.config;
  auto expect = [&](const std::string& name, Shape shape, bool required = true) {
    const Shape have = impl.weight_shape(name);
    if (have.empty()) {
      if (required) fail(ErrorKind::Format, impl.source + ": weight '" + name + "' is missing");
      return;
    }
    if (have != shape) {
      auto str = [](const Shape& s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      fail(ErrorKind::Format, impl.source + ": weight '" + name + "' has shape " + str(have) + ", expected " + str(shape));
    }
  };
  if (c.n_layer <= 0 || c.n_embd <= 0 || c.n_head <= 0 || c.n_head_kv <= 0 || c.head_dim <= 0 || c.n_vocab <= 0)
    fail(ErrorKind::Format, impl.source + ": model dimensions must be positive");
  if (c.n_head % c.n_head_kv != 0) fail(ErrorKind::Format, impl.source + ": n_head is not a multiple of n_head_kv");
  if (c.rope_dim < 0 || c.rope_dim > c.head_dim || c.rope_dim % 2)
    fail(ErrorKind::Format, impl.source + ": rope dimension must be even and at most head_dim");
  if (!c.rope_freq_factors.empty() && static_cast<int>(c.rope_freq_factors.size()) != c.rope_dim / 2)
    fail(ErrorKind::Format, impl.source + ": rope frequency factors must have rope_dim/2 entries");
  if (c.family == ArchFamily::Llama) {
    const int64_t D = c.n_embd, V = c.n_vocab, F = c.n_ff, q = int64_t{c.n_head} * c.head_dim,
                  kv = int64_t{c.n_head_kv} * c.head_dim;
    expect("token_embd.weight", {V, D});
    expect("output_norm.weight", {D});
    if (!c.tied_embeddings) expect("output.weight", {V, D});
    for (int l = 0; l < c.n_layer; ++l) {
      const std::string W = "blk." + std::to_string(l) + ".";
      expect(W + "attn_norm.weight", {D});
      expect(W + "attn_q.weight", {q, D});
      expect(W + "attn_k.weight", {kv, D});
      expect(W + "attn_v.weight", {kv, D});
      expect(W + "attn_output.weight", {D, q});
      expect(W + "attn_q.bias", {q}, c.qkv_bias);
      expect(W + "attn_k.bias", {kv}, c.qkv_bias);
      expect(W + "attn_v.bias", {kv}, c.qkv_bias);
      expect(W + "attn_output.bias", {D}, false);
      expect(W + "ffn_norm.weight", {D});
      expect(W + "ffn_gate.weight", {F, D});
      expect(W + "ffn_up.weight", {F, D});
      expect(W + "ffn_down.weight", {D, F});
    }
    if (!impl.forward) impl.forward = &forward_llama;
  }
  if (!impl.forward)
    fail(ErrorKind::Unsupported, impl.source + ": no forward pass for architecture '" + c.arch + "'");
  if (impl.tokenizer && impl.tokenizer->vocab_size() > c.n_vocab)
    fail(ErrorKind::Format, impl.source + ": tokenizer has " + std::to_string(impl.tokenizer->vocab_size()) +
                                " tokens but the model only " + std::to_string(c.n_vocab));
}

}  // namespace detail

namespace {

bool is_gguf_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

// "org/name" or "org/name@rev": what the hub resolver takes.
bool looks_like_hub_name(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos || slash == 0 || s.find('/', slash + 1) != std::string::npos) return false;
  if (s[0] == '.' || s[0] == '~') return false;
  for (char ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' || ch == '/' || ch == '@'))
      return false;
  return true;
}

}  // namespace

Model::Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {
  if (!impl_) fail(ErrorKind::InvalidArgument, "Model constructed without an implementation");
}

Model Model::load(const std::string& path_or_name, const LoadOptions& options) {
  namespace fs = std::filesystem;
  if (options.threads > 0) set_num_threads(options.threads);
  if (path_or_name.empty()) fail(ErrorKind::InvalidArgument, "no model given (empty path)");
  if (path_or_name == detail::kToyModelName) {
    auto impl = detail::load_gguf_model(detail::toy_model_path(), options);
    impl->source = detail::kToyModelName;
    return Model(impl);
  }
  std::error_code ec;
  fs::path p(path_or_name);
  if (fs::is_directory(p, ec)) return Model(detail::load_hf_checkpoint(path_or_name, options));
  if (fs::exists(p, ec)) {
    if (is_gguf_file(path_or_name)) return Model(detail::load_gguf_model(path_or_name, options));
    if (p.extension() == ".safetensors" || p.filename() == "config.json")
      return Model(detail::load_hf_checkpoint(p.parent_path().empty() ? "." : p.parent_path().string(), options));
    fail(ErrorKind::Format, path_or_name + ": not a GGUF file (no 'GGUF' magic) nor a checkpoint directory");
  }
  if (looks_like_hub_name(path_or_name))
    return Model(detail::load_hf_checkpoint(detail::resolve_hub_model(path_or_name), options));
  fail(ErrorKind::NotFound, path_or_name + ": no such model file or directory");
}

const ModelConfig& Model::config() const { return impl_->config; }
std::string Model::dtype() const { return compute_dtype_name(impl_->dtype); }
bool Model::has_tokenizer() const { return impl_->tokenizer != nullptr; }
const Tokenizer& Model::tokenizer() const {
  if (!impl_->tokenizer) fail(ErrorKind::InvalidArgument, impl_->source + ": this model has no tokenizer");
  return *impl_->tokenizer;
}
std::string Model::source() const { return impl_->source; }

std::vector<int32_t> Model::encode(std::string_view text, bool add_bos) const {
  return tokenizer().encode(text, add_bos && tokenizer().add_bos_default());
}

std::vector<std::string> Model::hook_names() const { return detail::model_hook_names(impl_->config); }

Trace Model::run(std::string_view text, const RunOptions& options) const {
  if (text.empty()) fail(ErrorKind::InvalidArgument, "empty prompt: there is no text to run");
  return run(encode(text, options.add_bos), options);
}

Trace Model::run(const std::vector<int32_t>& ids, const RunOptions& options) const {
  return run_batch({ids}, options);
}

namespace detail {

void check_prompt_batch(const Model::Impl& impl, const std::vector<std::vector<int32_t>>& ids) {
  const ModelConfig& c = impl.config;
  if (ids.empty()) fail(ErrorKind::InvalidArgument, "empty batch: no prompts given");
  for (size_t b = 0; b < ids.size(); ++b) {
    if (ids[b].empty())
      fail(ErrorKind::InvalidArgument, "prompt " + std::to_string(b) + " is empty (no tokens to run)");
    if (ids[b].size() != ids[0].size())
      fail(ErrorKind::InvalidArgument, "batch prompts must have equal length: prompt " + std::to_string(b) + " has " +
                                           std::to_string(ids[b].size()) + " tokens, prompt 0 has " +
                                           std::to_string(ids[0].size()));
    if (c.n_ctx > 0 && ids[b].size() > static_cast<size_t>(c.n_ctx))
      fail(ErrorKind::InvalidArgument, "prompt " + std::to_string(b) + " has " + std::to_string(ids[b].size()) +
                                           " tokens, more than the model's context length " + std::to_string(c.n_ctx));
    for (size_t t = 0; t < ids[b].size(); ++t)
      if (ids[b][t] < 0 || ids[b][t] >= c.n_vocab)
        fail(ErrorKind::InvalidArgument, "token id " + std::to_string(ids[b][t]) + " at position " + std::to_string(t) +
                                             " of prompt " + std::to_string(b) + " is outside the vocabulary [0, " +
                                             std::to_string(c.n_vocab) + ")");
  }
}

void fill_trace_tokens(const Model::Impl& impl, const std::vector<std::vector<int32_t>>& ids, Trace& trace) {
  trace.tokens = ids;
  trace.str_tokens.clear();
  if (impl.tokenizer)
    for (const auto& row : ids) trace.str_tokens.push_back(impl.tokenizer->to_str_tokens(row));
}

}  // namespace detail

Trace Model::run_batch(const std::vector<std::vector<int32_t>>& ids, const RunOptions& options) const {
  detail::check_prompt_batch(*impl_, ids);
  detail::HookRunner hooks(hook_names(), impl_->config.n_layer, options.capture, options.layers, options.interventions);
  Trace trace;
  detail::fill_trace_tokens(*impl_, ids, trace);
  detail::ForwardInput in;
  in.ids = &ids;
  in.want_logits = options.return_logits || hooks.captured("logits");
  in.last_logits_only = options.last_logits_only;
  if (options.capture_sink) hooks.set_sink(options.capture_sink);
  impl_->forward(*impl_, in, hooks, trace);
  return trace;
}

}  // namespace attnscope
