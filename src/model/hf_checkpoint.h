// A Hugging Face checkpoint (config.json + safetensors) through a family's tables: config.json ->
// ModelConfig (the family's from_hf), HF tensor names -> canonical (GGUF) names with the family's
// transforms, so a checkpoint binds to exactly the weights its llama.cpp conversion would hold.
#pragma once
#include <map>
#include <optional>
#include <string>

#include "attnscope/model.h"
#include "attnscope/tensor.h"
#include "formats/hf_checkpoint.h"
#include "model/arch.h"
#include "model/hf_transforms.h"
#include "tensor/stored_weight.h"

namespace attnscope {

struct HfConfig {
  ModelConfig model;
  std::string hf_arch;  // e.g. "LlamaForCausalLM"
  HfQuantization quant;
  int bos_id = -1, eos_id = -1;
};

// Parses config.json text; `where` names the file in errors. Unknown architecture: Unsupported
// naming it and the ones that are known.
HfConfig parse_hf_config(const std::string& json_text, const std::string& where);
HfConfig read_hf_config(const std::string& path);

struct HfTensorTarget {
  std::string canonical;  // e.g. "blk.3.attn_q.weight" (fused tensors keep their fused name)
  detail::HfTransform transform = detail::HfTransform::None;
};
// The canonical name for a Hugging Face tensor name under the family's table; std::nullopt for
// tensors that are not weights (rotary inv_freq caches, GPT-2's mask buffers). Unsupported for a
// name the architecture does not have.
std::optional<HfTensorTarget> map_hf_tensor(const std::string& hf_name, const ModelConfig& config);

struct HfCheckpoint {
  std::string dir;
  HfConfig hf;  // hf.model is the final ModelConfig
  ComputeDtype dtype = ComputeDtype::Float32;
  // Canonical names, transforms applied (fused not yet split). float32: every weight decoded
  // here. Otherwise the F16/BF16 and MLX-quantised matrices are in `matrices` in their stored type
  // (views of the mapping, or owned copies where rows were permuted or transposed) and `weights`
  // holds the rest (1-d tensors, F32 matrices, matrices that cannot stay stored).
  std::map<std::string, Tensor> weights;
  std::map<std::string, StoredWeight> matrices;
};
// `dtype` is LoadOptions::dtype ("auto", "float32", "bfloat16"), resolved from the tensor table's
// sizes before anything is decoded. Errors: NotFound (no config.json / weights, or a weight the
// config needs), Format (shapes that contradict the config), Unsupported (architecture, dtype,
// quantisation), InvalidArgument (dtype). The output head is tied to token_embd when the config
// says so or when the checkpoint has no head.
// `mmap`: LoadOptions::mmap (how stored matrices are held, see weight_backing in loaders.h).
HfCheckpoint read_hf_checkpoint(const std::string& dir, const std::string& dtype = "float32", bool mmap = false);

}  // namespace attnscope
