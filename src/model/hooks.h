// The hook runner: which hook points one forward pass captures (into its Trace or a sink) and
// intervenes on. The forward calls hooks.at(HookPoint, layer, value, ...) at each point with the
// live buffer; the runner applies the interventions, then captures. Names are resolved once, when
// the runner is made, against the model's hook names (attnscope/hook_points.h); the forward's
// calls are a table lookup, and a name string is made only for a point someone listens to.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attnscope/hook_points.h"
#include "attnscope/trace.h"

namespace attnscope::detail {

class HookRunner {
 public:
  HookRunner() = default;  // captures nothing, intervenes nowhere
  // Resolves capture entries and intervention targets against `hook_names` (a model's, in
  // forward order); an entry that selects no hook point, or a layer outside [0, n_layer), is an
  // InvalidArgument error naming it. `layers` (if non-empty) restricts the captured per-layer
  // hooks to those layers.
  HookRunner(const std::vector<std::string>& hook_names, int n_layer, const std::vector<std::string>& capture,
             const std::vector<int>& layers, const std::vector<Intervention>& interventions);

  bool captured(HookPoint p, int layer = -1) const { return flags(p, layer) & kCapture; }
  bool intervened(HookPoint p, int layer = -1) const { return flags(p, layer) & kIntervene; }
  // Must the forward compute this point's value at all (hook_result, logits of every position ...)?
  bool active(HookPoint p, int layer = -1) const { return flags(p, layer) != 0; }
  bool captures_anything() const { return n_captured_ > 0; }

  // At hook point (p, layer): runs the interventions on `value` in place (an intervention that
  // assigns a new tensor of the same shape is copied back into the forward's buffer), then, if
  // captured, stores the value in `trace` (or hands it to the sink). `fresh` says the forward never
  // writes this buffer again, so the trace may share it instead of copying.
  void at(HookPoint p, int layer, Tensor& value, Trace& trace, bool fresh = false) const;
  // Captured values go to `sink` as they are produced instead of into the trace.
  void set_sink(CaptureSink sink) { sink_ = std::move(sink); }
  // Attention rows go to `observer` block by block (RunOptions::pattern_observer); may be null.
  void set_pattern_observer(PatternObserver* observer) { observer_ = observer; }
  PatternObserver* pattern_observer() const { return observer_; }
  // Only the interventions part of at() (for values the forward stores elsewhere, e.g. logits).
  void intervene(HookPoint p, int layer, Tensor& value) const;

 private:
  static constexpr uint8_t kCapture = 1, kIntervene = 2;
  // Slot of (p, layer): the points outside the blocks first, then layer by layer.
  size_t slot(HookPoint p, int layer) const {
    return static_cast<size_t>(layer + 1) * kHookPointCount + static_cast<size_t>(p);
  }
  uint8_t flags(HookPoint p, int layer) const {
    const size_t s = slot(p, layer);
    return s < flags_.size() ? flags_[s] : 0;
  }

  std::vector<uint8_t> flags_;                      // per slot: kCapture | kIntervene
  std::vector<std::vector<size_t>> interventions_;  // per slot: indices into interventions_list_
  std::vector<Intervention> interventions_list_;
  int n_captured_ = 0;
  CaptureSink sink_;
  PatternObserver* observer_ = nullptr;
};

}  // namespace attnscope::detail
