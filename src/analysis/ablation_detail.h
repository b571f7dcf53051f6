// Private pieces of the head-ablation sweep.
#pragma once
#include "attnscope/model.h"

namespace attnscope::detail {

// A model made of layers [start_layer, n_layer) of `model` (renamed 0..), sharing its weights,
// tokenizer and forward function. Running it with blocks.0.hook_resid_pre replaced by the
// residual stream before `start_layer` continues the original forward pass from there: the
// layers before are not run again.
Model make_tail_model(const Model& model, int start_layer);

}  // namespace attnscope::detail
