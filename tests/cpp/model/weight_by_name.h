// A loaded model's weight by canonical name, whole, as float32: what tests compare between two
// loads of one model. The library itself reaches weights only through the bound structs
// (model/weights.h) and never keeps a decoded copy; neither does this (the caller holds it).
#pragma once
#include <string>

#include "attnscope/model.h"
#include "model/model_impl.h"

namespace attnscope::test {

// A view of a float32 weight, else a decoded copy; std::out_of_range if the model has no `name`.
inline Tensor weight_f32(const Model& model, const std::string& name) {
  const Model::Impl& m = model.impl();
  if (auto t = m.weights.find(name); t != m.weights.end()) return t->second;
  return m.matrices.at(name).to_tensor();
}

}  // namespace attnscope::test
