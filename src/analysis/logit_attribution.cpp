// Direct logit attribution: the final residual stream split into its additive parts, each sent
// through the final norm (scale frozen from the clean run) and the unembedding (see attribution.h).
#include <cmath>
#include <cstring>
#include <map>
#include <string>

#include "attnscope/attribution.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "model/head_weights.h"

namespace attnscope {

namespace {

bool has_pos_embed(const Model& model) { return model.config().learned_positions; }

// Row `batch` of a [B, T, X] tensor as a [T, X] copy.
Tensor batch_row(const Tensor& t, int batch, const std::string& name) {
  if (t.ndim() != 3 || batch < 0 || batch >= t.dim(0))
    fail(ErrorKind::InvalidArgument,
         name + " is " + t.shape_str() + "; batch row " + std::to_string(batch) + " of a [B, T, D] tensor asked for");
  return t.slice0(batch).clone();
}

// Gemma 2/3 and OLMo-2 normalise the attention output before adding it to the stream
// (post_attention_layernorm): the parts of that output (every head's hook_result, and the bias)
// go through the norm with its scale frozen at its value on their sum, so they still add up to
// hook_attn_out exactly; the same linearisation apply_ln_to_stack makes of the final norm.
void freeze_post_attn_norm(const Model& model, int layer, std::vector<Tensor>& parts) {
  const Tensor w = detail::post_attn_norm_weights(model, layer).w;
  if (w.empty()) return;
  const ModelConfig& c = model.config();
  if (c.norm != NormKind::RMSNorm) fail(ErrorKind::Unsupported, "a post-attention LayerNorm (only RMSNorm is handled)");
  const int64_t T = parts[0].dim(0), D = parts[0].dim(1);
  for (int64_t p = 0; p < T; ++p) {
    double ss = 0;
    for (int64_t d = 0; d < D; ++d) {
      double x = 0;
      for (const Tensor& part : parts) x += part.data()[p * D + d];
      ss += x * x;
    }
    const double scale = 1.0 / std::sqrt(ss / static_cast<double>(D) + c.norm_eps);
    for (Tensor& part : parts)
      for (int64_t d = 0; d < D; ++d)
        part.data()[p * D + d] = static_cast<float>(part.data()[p * D + d] * scale * w.data()[d]);
  }
}

}  // namespace

std::vector<std::string> resid_decomposition_hooks(const Model& model) {
  const int L = model.config().n_layer;
  std::vector<std::string> hooks = {hook_name(HookPoint::Embed)};
  if (has_pos_embed(model)) hooks.push_back(hook_name(HookPoint::PosEmbed));
  for (int l = 0; l < L; ++l) {
    hooks.push_back(hook_name(HookPoint::AttnResult, l));
    hooks.push_back(hook_name(HookPoint::MlpOut, l));
  }
  hooks.push_back(hook_name(HookPoint::ResidPost, L - 1));
  return hooks;
}

ResidStack get_full_resid_decomposition(const Model& model, const Trace& trace, int batch) {
  const ModelConfig& c = model.config();
  const int L = c.n_layer, H = c.n_head;
  std::vector<Tensor> parts;  // each [T, D]
  ResidStack out;
  auto add = [&](Tensor t, std::string label) {
    parts.push_back(std::move(t));
    out.labels.push_back(std::move(label));
  };
  add(batch_row(trace.at(hook_name(HookPoint::Embed)), batch, hook_name(HookPoint::Embed)), "embed");
  if (has_pos_embed(model))
    add(batch_row(trace.at(hook_name(HookPoint::PosEmbed)), batch, hook_name(HookPoint::PosEmbed)), "pos_embed");
  const int64_t T = parts[0].dim(0), D = parts[0].dim(1);
  for (int l = 0; l < L; ++l) {
    const std::string rname = hook_name(HookPoint::AttnResult, l);
    const Tensor& r = trace.at(rname);  // [B, T, H, D]
    if (r.ndim() != 4 || r.dim(1) != T || r.dim(2) != H || r.dim(3) != D || batch >= r.dim(0))
      fail(ErrorKind::InvalidArgument, rname + " is " + r.shape_str() + ", expected [B, " + std::to_string(T) + ", " +
                                           std::to_string(H) + ", " + std::to_string(D) + "]");
    std::vector<Tensor> heads;  // the layer's head parts, then its output bias if it has one
    for (int h = 0; h < H; ++h) {
      Tensor t({T, D});
      for (int64_t p = 0; p < T; ++p)
        std::memcpy(t.data() + p * D, r.data() + ((batch * T + p) * H + h) * D, sizeof(float) * D);
      heads.push_back(std::move(t));
    }
    const Tensor bias = detail::attn_out_bias(model, l);
    if (!bias.empty()) {
      Tensor t({T, D});
      for (int64_t p = 0; p < T; ++p) std::memcpy(t.data() + p * D, bias.data(), sizeof(float) * D);
      heads.push_back(std::move(t));
    }
    freeze_post_attn_norm(model, l, heads);
    for (int h = 0; h < H; ++h) add(std::move(heads[h]), "L" + std::to_string(l) + "H" + std::to_string(h));
    if (!bias.empty()) add(std::move(heads[H]), std::to_string(l) + "_attn_bias");
    add(batch_row(trace.at(hook_name(HookPoint::MlpOut, l)), batch, hook_name(HookPoint::MlpOut, l)),
        std::to_string(l) + "_mlp_out");
  }
  const int64_t C = static_cast<int64_t>(parts.size());
  out.stack = Tensor({C, T, D});
  for (int64_t i = 0; i < C; ++i) {
    if (parts[i].shape() != Shape{T, D})
      fail(ErrorKind::InvalidArgument, "resid decomposition: part " + out.labels[i] + " is " + parts[i].shape_str() +
                                           ", expected [" + std::to_string(T) + ", " + std::to_string(D) + "]");
    std::memcpy(out.stack.data() + i * T * D, parts[i].data(), sizeof(float) * T * D);
  }
  return out;
}

Tensor apply_ln_to_stack(const Model& model, const Trace& trace, const Tensor& stack, int batch) {
  const ModelConfig& c = model.config();
  const std::string final_name = hook_name(HookPoint::ResidPost, c.n_layer - 1);
  const Tensor x = batch_row(trace.at(final_name), batch, final_name);  // [T, D]
  const int64_t T = x.dim(0), D = x.dim(1);
  if (stack.ndim() != 3 || stack.dim(1) != T || stack.dim(2) != D)
    fail(ErrorKind::InvalidArgument, "apply_ln_to_stack: the stack is " + stack.shape_str() + ", expected [C, " +
                                         std::to_string(T) + ", " + std::to_string(D) + "]");
  const bool layernorm = c.norm == NormKind::LayerNorm;
  const detail::NormWeights nw = detail::final_norm_weights(model);
  // The frozen scale of every position, from the clean final residual stream.
  std::vector<double> scale(static_cast<size_t>(T));
  for (int64_t p = 0; p < T; ++p) {
    const float* row = x.data() + p * D;
    double mean = 0, ss = 0;
    if (layernorm)
      for (int64_t d = 0; d < D; ++d) mean += row[d];
    mean /= static_cast<double>(D);
    for (int64_t d = 0; d < D; ++d) ss += (row[d] - mean) * (row[d] - mean);
    scale[p] = 1.0 / std::sqrt(ss / static_cast<double>(D) + c.norm_eps);
  }
  const int64_t C = stack.dim(0);
  Tensor out({C, T, D});
  for (int64_t i = 0; i < C; ++i)
    for (int64_t p = 0; p < T; ++p) {
      const float* in = stack.data() + (i * T + p) * D;
      float* o = out.data() + (i * T + p) * D;
      double mean = 0;
      if (layernorm)
        for (int64_t d = 0; d < D; ++d) mean += in[d];
      mean /= static_cast<double>(D);
      for (int64_t d = 0; d < D; ++d) o[d] = static_cast<float>((in[d] - mean) * scale[p] * nw.w.data()[d]);
    }
  return out;
}

Tensor logit_attrs(const Model& model, const Tensor& normalized_stack, int32_t token, std::optional<int32_t> minus) {
  if (normalized_stack.ndim() != 3)
    fail(ErrorKind::InvalidArgument,
         "logit_attrs: the stack is " + normalized_stack.shape_str() + ", expected [C, T, D]");
  const size_t T = static_cast<size_t>(normalized_stack.dim(1));
  return logit_attrs(model, normalized_stack, std::vector<int32_t>(T, token),
                     minus ? std::vector<int32_t>(T, *minus) : std::vector<int32_t>{});
}

Tensor logit_attrs(const Model& model, const Tensor& normalized_stack, const std::vector<int32_t>& tokens,
                   const std::vector<int32_t>& minus) {
  const int64_t D = model.config().n_embd;
  if (normalized_stack.ndim() != 3 || normalized_stack.dim(2) != D)
    fail(ErrorKind::InvalidArgument,
         "logit_attrs: the stack is " + normalized_stack.shape_str() + ", expected [C, T, " + std::to_string(D) + "]");
  const int64_t C = normalized_stack.dim(0), T = normalized_stack.dim(1);
  if (static_cast<int64_t>(tokens.size()) != T || (!minus.empty() && static_cast<int64_t>(minus.size()) != T))
    fail(ErrorKind::InvalidArgument, "logit_attrs: " + std::to_string(tokens.size()) + " target tokens (and " +
                                         std::to_string(minus.size()) + " subtracted) for " + std::to_string(T) +
                                         " positions");
  Tensor out({C, T});
  for (int64_t p = 0; p < T; ++p) {
    Tensor u = detail::unembed_row(model, tokens[p]);
    if (!minus.empty()) {
      const Tensor um = detail::unembed_row(model, minus[p]);
      for (int64_t d = 0; d < D; ++d) u.data()[d] -= um.data()[d];
    }
    for (int64_t c = 0; c < C; ++c) {
      const float* row = normalized_stack.data() + (c * T + p) * D;
      double s = 0;
      for (int64_t d = 0; d < D; ++d) s += static_cast<double>(row[d]) * u.data()[d];
      out.data()[c * T + p] = static_cast<float>(s);
    }
  }
  return out;
}

DirectLogitAttribution direct_logit_attribution(const Model& model, const std::vector<int32_t>& ids, int32_t token,
                                                std::optional<int32_t> minus, const std::vector<int>& positions) {
  const ModelConfig& c = model.config();
  const int64_t T = static_cast<int64_t>(ids.size());
  DirectLogitAttribution r;
  r.token = token;
  r.minus = minus;
  r.n_layers = c.n_layer;
  r.n_heads = c.n_head;
  detail::unembed_row(model, token);  // checks the ids before the run
  if (minus) detail::unembed_row(model, *minus);
  for (int p : positions.empty() ? std::vector<int>{-1} : positions) {
    if (p < -T || p >= T)
      fail(ErrorKind::InvalidArgument, "direct_logit_attribution: position " + std::to_string(p) + " is outside the " +
                                           std::to_string(T) + "-token sequence");
    r.positions.push_back(p < 0 ? static_cast<int>(T + p) : p);
  }
  RunOptions ro;
  ro.capture = resid_decomposition_hooks(model);
  const Trace trace = model.run(ids, ro);
  if (!trace.str_tokens.empty()) r.str_tokens = trace.str_tokens[0];
  const ResidStack rs = get_full_resid_decomposition(model, trace);
  Tensor attrs = logit_attrs(model, apply_ln_to_stack(model, trace, rs.stack), token, minus);  // [C, T]
  r.labels = rs.labels;
  double bias_term = 0;
  const Tensor ln_b = detail::final_norm_weights(model).b;
  const bool ln_bias = !ln_b.empty();
  if (ln_bias) {
    const Tensor u = detail::unembed_row(model, token);
    const Tensor um = minus ? detail::unembed_row(model, *minus) : Tensor();
    for (int64_t d = 0; d < ln_b.dim(0); ++d)
      bias_term += static_cast<double>(ln_b.data()[d]) * (u.data()[d] - (minus ? um.data()[d] : 0.0f));
    r.labels.push_back("ln_final.b");
  }
  // Gemma 2 soft-caps its logits (cap * tanh(z / cap)) and the parts add up to z, so z is the
  // logit reported there: the final residual stream through the frozen final norm and the
  // unembedding (its capped value is the forward pass's logit).
  Tensor uncapped;  // [1, T]
  if (c.final_softcap > 0) {
    const std::string final_name = hook_name(HookPoint::ResidPost, c.n_layer - 1);
    const Tensor x = batch_row(trace.at(final_name), 0, final_name).reshape({1, T, c.n_embd});
    uncapped = logit_attrs(model, apply_ln_to_stack(model, trace, x), token, minus);
  }
  // Where each head's and MLP's part sits in the stack, by its label.
  std::map<std::string, int64_t> index;
  for (size_t k = 0; k < rs.labels.size(); ++k) index[rs.labels[k]] = static_cast<int64_t>(k);
  const int64_t C = static_cast<int64_t>(r.labels.size()), P = static_cast<int64_t>(r.positions.size());
  const int64_t C0 = attrs.dim(0), V = trace.logits.dim(2);
  r.attribution = Tensor({P, C});
  r.heads = Tensor({P, c.n_layer, c.n_head});
  r.mlp = Tensor({P, c.n_layer});
  for (int64_t i = 0; i < P; ++i) {
    const int64_t p = r.positions[i];
    for (int64_t k = 0; k < C0; ++k) r.attribution.data()[i * C + k] = attrs.data()[k * T + p];
    if (ln_bias) r.attribution.data()[i * C + C0] = static_cast<float>(bias_term);
    const float* lrow = trace.logits.data() + p * V;
    r.logit.push_back(uncapped.empty() ? static_cast<double>(lrow[token]) - (minus ? lrow[*minus] : 0.0f)
                                       : uncapped.data()[p] + bias_term);
    for (int l = 0; l < c.n_layer; ++l) {
      for (int h = 0; h < c.n_head; ++h)
        r.heads.data()[(i * c.n_layer + l) * c.n_head + h] =
            attrs.data()[index.at("L" + std::to_string(l) + "H" + std::to_string(h)) * T + p];
      r.mlp.data()[i * c.n_layer + l] = attrs.data()[index.at(std::to_string(l) + "_mlp_out") * T + p];
    }
  }
  return r;
}

}  // namespace attnscope
