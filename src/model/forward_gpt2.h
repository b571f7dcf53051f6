// The GPT-2 family: learned positions, pre-LayerNorm blocks, fused q/k/v with biases, GELU (tanh)
// MLP, output head tied to the token embedding unless output.weight exists. Weight names are
// llama.cpp's gpt2 ones, every matrix [out, in]:
//   token_embd.weight [V, D]   position_embd.weight [n_ctx, D]   output_norm.{weight,bias} [D]
//   blk.L.attn_norm.{weight,bias}  blk.L.attn_qkv.weight [3D, D] (+bias)  blk.L.attn_output [D, D] (+bias)
//   blk.L.ffn_norm.{weight,bias}   blk.L.ffn_up.weight [F, D] (+bias)     blk.L.ffn_down [D, F] (+bias)
#pragma once
#include <memory>
#include <string>

#include "attnscope/gguf.h"
#include "model/model_impl.h"

namespace attnscope::detail {

void forward_gpt2(const Model::Impl& model, const ForwardInput& in, const HookRunner& hooks, Trace& out);

// Checks every GPT-2 weight against the config (Format error naming the tensor) and sets
// impl.forward; called by the loaders before finalize_model.
void prepare_gpt2(Model::Impl& impl);

// A GGUF file of architecture "gpt2" (as llama.cpp's converter writes it).
ModelConfig config_from_gguf_gpt2(const GgufFile& file);
std::shared_ptr<Model::Impl> load_gguf_gpt2(const std::string& path, const LoadOptions& options);

}  // namespace attnscope::detail
