// Binding edits to hook names and checking the names against a model.
#include <algorithm>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "attnscope/model.h"

namespace attnscope::iv {

namespace {
bool is_glob(const std::string& s) { return s.find_first_of("*?") != std::string::npos; }
}  // namespace

Intervention on(const std::string& target, Edit edit) {
  if (!edit.fn) fail(ErrorKind::InvalidArgument, "intervention on '" + target + "' has no function");
  std::string name = target;
  if (auto canonical = canonical_hook_name(target)) {
    name = *canonical;
  } else if (!is_glob(target)) {
    fail(ErrorKind::InvalidArgument, "intervention target '" + target + "' is not a hook name or alias" +
                                         did_you_mean(target, hook_names_near(target)) +
                                         " (e.g. blocks.0.attn.hook_z, "
                                         "model.layers.0.self_attn, or a glob such as blocks.*.hook_attn_out)");
  }
  return {name, std::move(edit.fn), edit.description + " @ " + name};
}

std::vector<std::string> matching_hooks(const std::string& target, const std::vector<std::string>& hook_names) {
  return match_hook_names(target, hook_names);  // the matcher Model::run uses
}

void validate(const Model& model, const std::vector<Intervention>& interventions) {
  const std::vector<std::string> names = model.hook_names();
  for (const auto& iv : interventions) {
    if (!iv.fn) fail(ErrorKind::InvalidArgument, "intervention on '" + iv.target + "' has no function");
    if (!matching_hooks(iv.target, names).empty()) continue;
    std::string examples;
    for (size_t i = 0; i < names.size() && i < 6; ++i) examples += (i ? ", " : "") + names[i];
    fail(ErrorKind::InvalidArgument, "intervention target '" + iv.target + "' matches no hook point of this model" +
                                         did_you_mean(iv.target, names) + " (" + std::to_string(names.size()) +
                                         " hook points: " + examples + ", ...)");
  }
}

}  // namespace attnscope::iv
