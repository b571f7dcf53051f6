// What Gemma, Gemma 2 and Gemma 3 share (src/model/arch_gemma.cpp): the config keys every Gemma
// has, and the weight table of Gemma with its (1 + w) norms.
#pragma once
#include "model/arch.h"

namespace attnscope::detail {

// NeoX RoPE, GeGLU (gelu_pytorch_tanh) MLP, sqrt(n_embd) embedding scale, tied head.
void gemma_from_gguf(const GgufKeys& k, ModelConfig& c);
// `d`: the family's config class defaults (GemmaConfig, Gemma2Config, Gemma3TextConfig).
void gemma_from_hf(const JsonKeys& k, ModelConfig& c, const HfDefaults& d);
// A soft-cap key (attn_logit_softcapping, final_logit_softcapping): the value when present,
// 0 (off) when null, `fallback` when absent. Format error for a cap <= 0 (transformers divides
// by it).
float gemma_softcap(const JsonKeys& k, const char* key, double fallback);
// Gemma's table; with_post_norms adds Gemma 2/3's four-norm layout (HF post_attention_layernorm is
// then the post-attention norm and pre_feedforward_layernorm the MLP's pre-norm). Every RMSNorm
// weight is HfTransform::PlusOne: HF stores w and computes x * (1 + w), GGUF stores 1 + w.
// query_pre_attn_scalar (q is scaled by its -1/2 power): 256 when absent (Gemma2Config and
// Gemma3TextConfig), Format error unless positive.
double gemma_query_scalar(const JsonKeys& k);
std::vector<WeightSpec> gemma_weights(const ModelConfig& c, bool with_post_norms);

}  // namespace attnscope::detail
