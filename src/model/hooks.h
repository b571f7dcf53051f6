// Hook points: which activations a forward pass keeps (capture) and changes (interventions).
// One small piece shared by every forward function: the forward calls hooks.at(name, ...) at
// each hook point with the live buffer; the runner applies interventions, then captures.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "attnscope/model_config.h"
#include "attnscope/trace.h"

namespace attnscope::detail {

// The one hook table (src/model/hooks.cpp) serves Model::run, generation, iv::validate, Python and
// the docs: the hook points of a model with this config, in forward order (TransformerLens names;
// family-specific ones such as attn.hook_rot_q or attn.q_norm.hook_normalized only where the
// family has them).
std::vector<std::string> model_hook_names(const ModelConfig& config);

// An alias (Hugging Face module path) or canonical name -> its canonical hook name, not checked
// against a model; nullopt for neither. (canonical_hook_name in trace.h is this.)
std::optional<std::string> canonical_hook(const std::string& name);

// Every hook name of `hook_names` that `entry` (canonical name, alias, or glob over either)
// selects. Empty when it selects none.
std::vector<std::string> match_hook_names(const std::string& entry, const std::vector<std::string>& hook_names);

class HookRunner {
 public:
  HookRunner() = default;  // captures nothing, intervenes nowhere
  // Resolves capture entries and intervention targets against `hook_names`; an entry that
  // selects no hook point, or a layer outside [0, n_layer), is an InvalidArgument error naming it.
  // `layers` (if non-empty) restricts the captured per-layer hooks to those layers.
  HookRunner(const std::vector<std::string>& hook_names, int n_layer, const std::vector<std::string>& capture,
             const std::vector<int>& layers, const std::vector<Intervention>& interventions);

  bool captured(const std::string& name) const { return capture_.count(name) != 0; }
  bool intervened(const std::string& name) const { return interventions_.count(name) != 0; }
  // Must the forward compute this hook's value at all (hook_result, attn_scores copies ...)?
  bool active(const std::string& name) const { return captured(name) || intervened(name); }
  const std::set<std::string>& capture_set() const { return capture_; }

  // At hook point `name`: runs the interventions on `value` in place (an intervention that
  // assigns a new tensor of the same shape is copied back into the forward's buffer), then, if
  // captured, stores the value in `trace`. `fresh` says the forward never writes this buffer
  // again, so the trace may share it instead of copying.
  void at(const std::string& name, int layer, Tensor& value, Trace& trace, bool fresh = false) const;
  // Captured values go to `sink` as they are produced instead of into the trace.
  void set_sink(CaptureSink sink) { sink_ = std::move(sink); }
  // Only the interventions part of at() (for values the forward stores elsewhere, e.g. logits).
  void intervene(const std::string& name, int layer, Tensor& value) const;

 private:
  std::set<std::string> capture_;
  CaptureSink sink_;
  std::vector<Intervention> interventions_list_;
  std::map<std::string, std::vector<size_t>> interventions_;  // canonical name -> indices into the list
};

// "blocks.L.<rest>" -> L, otherwise -1.
int hook_layer(const std::string& name);

}  // namespace attnscope::detail
