// Model: loading dispatch, input checks, and the run entry points.
#include "attnscope/model.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "attnscope/error.h"
#include "model/hooks.h"
#include "model/loaders.h"
#include "model/model_impl.h"
#include "model/ragged.h"
#include "model/toy_model.h"
#include "tensor/threading.h"

namespace attnscope {

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
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.' || ch == '/' ||
          ch == '@'))
      return false;
  return true;
}

// The loaders by what the name points at.
std::shared_ptr<Model::Impl> load_impl(const std::string& path_or_name, const LoadOptions& options) {
  namespace fs = std::filesystem;
  if (path_or_name.empty()) fail(ErrorKind::InvalidArgument, "no model given (empty path)");
  if (path_or_name == detail::kToyModelName) {
    auto impl = detail::load_gguf_model(detail::toy_model_path(), options);
    impl->source = detail::kToyModelName;
    return impl;
  }
  std::error_code ec;
  fs::path p(path_or_name);
  if (fs::is_directory(p, ec)) return detail::load_hf_checkpoint(path_or_name, options);
  if (fs::exists(p, ec)) {
    if (is_gguf_file(path_or_name)) return detail::load_gguf_model(path_or_name, options);
    if (p.extension() == ".safetensors" || p.filename() == "config.json")
      return detail::load_hf_checkpoint(p.parent_path().empty() ? "." : p.parent_path().string(), options);
    fail(ErrorKind::Format, path_or_name + ": not a GGUF file (no 'GGUF' magic) nor a checkpoint directory");
  }
  if (looks_like_hub_name(path_or_name))
    return detail::load_hf_checkpoint(detail::resolve_hub_model(path_or_name), options);
  fail(ErrorKind::NotFound, path_or_name + ": no such model file or directory");
}

}  // namespace

Model::Model(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {
  if (!impl_) fail(ErrorKind::InvalidArgument, "Model constructed without an implementation");
}

void set_num_threads(int n) { ops::set_default_threads(n); }

Model Model::load(const std::string& path_or_name, const LoadOptions& options) {
  const ops::RunThreads threads(options.threads);  // decoding weights at load runs on the model's count
  std::shared_ptr<Impl> impl = load_impl(path_or_name, options);
  impl->threads = options.threads > 0 ? options.threads : 0;
  return Model(std::move(impl));
}

const ModelConfig& Model::config() const { return impl_->config; }
std::string Model::dtype() const { return compute_dtype_name(impl_->dtype); }
bool Model::has_tokenizer() const { return impl_->tokenizer != nullptr; }
const Tokenizer& Model::tokenizer() const {
  if (!impl_->tokenizer) fail(ErrorKind::InvalidArgument, impl_->source + ": this model has no tokenizer");
  return *impl_->tokenizer;
}
std::string Model::source() const { return impl_->source; }
int Model::threads() const { return impl_->threads > 0 ? impl_->threads : ops::default_threads(); }

// Each weight lives in one of the two maps (model_impl.h), so summing both counts it once.
int64_t Model::parameter_count() const {
  int64_t n = 0;
  for (const auto& [name, t] : impl_->weights) n += t.numel();
  for (const auto& [name, m] : impl_->matrices) n += m.rows * m.cols;
  return n;
}

std::vector<int32_t> Model::encode(std::string_view text, bool add_bos) const {
  return tokenizer().encode(text, add_bos && tokenizer().add_bos_default());
}

int32_t Model::to_single_token(std::string_view text) const { return tokenizer().to_single_token(text); }

std::vector<std::string> Model::hook_names() const { return model_hook_names(impl_->config); }

Trace Model::run(std::string_view text, const RunOptions& options) const {
  if (text.empty()) fail(ErrorKind::InvalidArgument, "empty prompt: there is no text to run");
  return run(encode(text, options.add_bos), options);
}

Trace Model::run(const std::vector<int32_t>& ids, const RunOptions& options) const { return run_batch({ids}, options); }

namespace detail {

ComputeDtype resolve_dtype(const std::string& requested, uint64_t decoded_bytes) {
  if (requested == "auto" || requested.empty())
    return decoded_bytes <= (uint64_t{1} << 30) ? ComputeDtype::Float32 : ComputeDtype::BFloat16;
  if (requested == "float32" || requested == "bfloat16") return parse_compute_dtype(requested);
  fail(ErrorKind::InvalidArgument, "unknown dtype '" + requested + "' (choose auto, float32 or bfloat16)");
}

namespace {
// MemAvailable of /proc/meminfo in bytes (0 where there is none: then nothing is read into memory).
uint64_t memory_available() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  while (in >> key >> kib) {
    if (key == "MemAvailable:") return kib << 10;
    in.ignore(256, '\n');
  }
  return 0;
}
}  // namespace

FileBacking weight_backing(bool mmap, uint64_t file_bytes) {
  if (mmap) return FileBacking::Mapped;
  return file_bytes <= memory_available() / 4 * 3 ? FileBacking::Memory : FileBacking::Mapped;
}

void refuse_empty_weight(const std::string& source, const std::string& name, const Shape& shape) {
  if (shape_numel(shape) == 0)
    fail(ErrorKind::Format, source + ": tensor '" + name + "' has shape " +
                                Tensor::view(shape, nullptr, nullptr).shape_str() +
                                ", no elements; no model weight is empty");
}

void check_prompt_batch(const Model::Impl& impl, const std::vector<std::vector<int32_t>>& ids, bool equal_lengths) {
  const ModelConfig& c = impl.config;
  if (ids.empty()) fail(ErrorKind::InvalidArgument, "empty batch: no prompts given");
  for (size_t b = 0; b < ids.size(); ++b) {
    if (ids[b].empty())
      fail(ErrorKind::InvalidArgument, "prompt " + std::to_string(b) + " is empty (no tokens to run)");
    if (equal_lengths && ids[b].size() != ids[0].size())
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
  const ops::RunThreads threads(impl_->threads);
  detail::check_prompt_batch(*impl_, ids);
  detail::HookRunner hooks(hook_names(), impl_->config.n_layer, options.capture, options.layers, options.interventions);
  Trace trace;
  detail::fill_trace_tokens(*impl_, ids, trace);
  trace.padding = options.padding;
  detail::ForwardInput in;
  in.ids = &ids;
  // Prompts of different lengths: one padded pass with per-row positions and a key mask.
  std::vector<std::vector<int32_t>> padded;
  detail::RowSpans spans;
  if (trace.padded()) {
    spans = detail::pad_rows(ids, options.padding, padded);
    in.ids = &padded;
    in.spans = &spans;
  }
  if (options.prefill_chunk < 0)
    fail(ErrorKind::InvalidArgument, "prefill_chunk must be >= 0, got " + std::to_string(options.prefill_chunk));
  if (options.prefill_chunk > 0 &&
      (!options.interventions.empty() || options.start_at_layer != 0 || !options.residual.empty() || trace.padded()))
    fail(ErrorKind::InvalidArgument,
         "a chunked prefill (prefill_chunk) runs without interventions, start_at_layer and ragged batches");
  in.want_logits = options.return_logits || hooks.captured(HookPoint::Logits);
  in.last_logits_only = options.last_logits_only;
  if (options.capture_sink) hooks.set_sink(options.capture_sink);
  hooks.set_pattern_observer(options.pattern_observer);
  // start_at_layer: the given stream (broadcast over the batch when it has one row).
  Tensor residual;
  if (options.start_at_layer != 0 || !options.residual.empty()) {
    // (T is the padded length in a ragged batch.)
    const int64_t B = static_cast<int64_t>(ids.size()), T = static_cast<int64_t>((*in.ids)[0].size());
    const Tensor& r = options.residual;
    if (r.empty() || r.ndim() != 3 || (r.dim(0) != B && r.dim(0) != 1) || r.dim(1) != T ||
        r.dim(2) != impl_->config.n_embd)
      fail(ErrorKind::InvalidArgument, "start_at_layer " + std::to_string(options.start_at_layer) +
                                           " needs the residual stream [B, T, D] or [1, T, D] to start from (B = " +
                                           std::to_string(B) + ", T = " + std::to_string(T) +
                                           ", D = " + std::to_string(impl_->config.n_embd) + "), got " + r.shape_str());
    residual = Tensor({B, T, r.dim(2)});
    const int64_t row = T * r.dim(2);
    for (int64_t b = 0; b < B; ++b)
      std::copy(r.data() + (r.dim(0) == 1 ? 0 : b) * row, r.data() + (r.dim(0) == 1 ? 1 : b + 1) * row,
                residual.data() + b * row);
    in.start_layer = options.start_at_layer;
    in.residual = &residual;
  }
  if (options.prefill_chunk > 0 && static_cast<int64_t>(ids[0].size()) > options.prefill_chunk)
    detail::run_chunked(*impl_, ids, options.prefill_chunk, in, hooks, trace);
  else
    impl_->forward(*impl_, in, hooks, trace);
  return trace;
}

}  // namespace attnscope
