// Temporary weak fallbacks so the library links before the real definitions exist (the toy model
// by helper "analysis", the hub resolver by helper "hf"). A strong definition elsewhere wins when
// its object is linked; delete this file once both real definitions are in the tree.
#include <string>

#include "attnscope/error.h"
#include "model/loaders.h"
#include "model/toy_model.h"

namespace attnscope::detail {

__attribute__((weak)) std::string toy_model_path() {
  fail(ErrorKind::Unsupported, "the built-in toy model is not available in this build");
}

__attribute__((weak)) std::string resolve_hub_model(const std::string& name) {
  fail(ErrorKind::Unsupported, "'" + name + "': loading from the Hugging Face hub is not available in this build");
}

}  // namespace attnscope::detail
