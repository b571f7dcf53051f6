// The "tail" of a model: its last layers as a model of their own, for resuming a forward pass
// from a cached residual stream (the head-ablation sweep re-runs only the layers after a head).
#include <memory>

#include "analysis/ablation_detail.h"
#include "attnscope/error.h"
#include "model/model_impl.h"

namespace attnscope::detail {

Model make_tail_model(const Model& model, int start_layer) {
  const Model::Impl& m = model.impl();
  const int n_layer = m.config.n_layer;
  if (start_layer < 0 || start_layer >= n_layer)
    fail(ErrorKind::InvalidArgument, "tail model: layer " + std::to_string(start_layer) + " out of range (the model has " +
                                         std::to_string(n_layer) + " layers)");
  auto impl = std::make_shared<Model::Impl>();
  impl->config = m.config;
  impl->config.n_layer = n_layer - start_layer;
  impl->tokenizer = m.tokenizer;
  impl->source = m.source + " (layers " + std::to_string(start_layer) + ".." + std::to_string(n_layer - 1) + ")";
  impl->keepalive = m.keepalive;
  impl->forward = m.forward;
  // Weights are Tensors sharing storage: renaming costs no copy of the data.
  for (const auto& [name, tensor] : m.weights) {
    if (name.rfind("blk.", 0) != 0) {
      impl->weights.emplace(name, tensor);
      continue;
    }
    const size_t dot = name.find('.', 4);
    if (dot == std::string::npos) {
      impl->weights.emplace(name, tensor);
      continue;
    }
    int layer = -1;
    try {
      layer = std::stoi(name.substr(4, dot - 4));
    } catch (const std::exception&) {
      impl->weights.emplace(name, tensor);
      continue;
    }
    if (layer < start_layer) continue;
    impl->weights.emplace("blk." + std::to_string(layer - start_layer) + name.substr(dot), tensor);
  }
  if (!impl->forward) fail(ErrorKind::Unsupported, m.source + ": the model has no forward pass to resume");
  return Model(impl);
}

}  // namespace attnscope::detail
