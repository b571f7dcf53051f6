// A Hugging Face checkpoint directory (config.json + safetensors, possibly sharded, possibly MLX-
// quantised) read into a ModelConfig and float32 weights under canonical (GGUF-style) names.
#pragma once
#include <map>
#include <string>

#include "attnscope/tensor.h"
#include "formats/hf_config.h"

namespace attnscope {

struct HfCheckpoint {
  std::string dir;
  HfConfig hf;                             // hf.model is the final ModelConfig
  std::map<std::string, Tensor> weights;   // "token_embd.weight", "blk.0.attn_q.weight", ...
};

// Errors: NotFound (no config.json / weights), Format (shapes that contradict the config),
// Unsupported (architecture, dtype, quantisation). The output head is tied to token_embd when the
// config says so or when the checkpoint has no lm_head.
HfCheckpoint read_hf_checkpoint(const std::string& dir);

// True if `dir` looks like a Hugging Face checkpoint (has config.json).
bool is_hf_checkpoint_dir(const std::string& dir);

}  // namespace attnscope
