#include "attnscope/trace.h"

#include "attnscope/error.h"

namespace attnscope {

bool Trace::has(const std::string& name) const {
  auto canonical = canonical_hook_name(name);
  return captured_.count(canonical ? *canonical : name) != 0 ||
         (canonical && *canonical == "logits" && !logits.empty());
}

const Tensor& Trace::at(const std::string& name) const {
  auto canonical = canonical_hook_name(name);
  const std::string key = canonical ? *canonical : name;
  auto it = captured_.find(key);
  if (it != captured_.end()) return it->second;
  if (key == "logits" && !logits.empty()) return logits;
  std::string have;
  for (const auto& [k, v] : captured_) have += (have.empty() ? "" : ", ") + k;
  fail(ErrorKind::NotFound, "'" + name + "' was not captured in this trace (captured: " +
                                (have.empty() ? std::string("nothing") : have) + ")");
}

void Trace::set(const std::string& canonical_name, Tensor value) { captured_[canonical_name] = std::move(value); }

std::map<int, Tensor> Trace::attention_patterns() const {
  std::map<int, Tensor> out;
  for (const auto& [name, value] : captured_)
    if (auto ref = parse_hook_name(name); ref && ref->point == HookPoint::AttnPattern) out[ref->layer] = value;
  return out;
}

}  // namespace attnscope
