// Non-fatal problems a person should see, raised by the library where they arise: the ids are
// kept (or the model loads) but something deserves a look. Keys name the kind:
//   "tokenizer.double_bos"          the text starts with BOS and BOS was prepended as well
//   "model.untied_head_missing"     config.json says tie_word_embeddings: false, no lm_head
// The default handler prints "attnscope: warning: <message>" to stderr, once per key and
// process. The Python package routes them to warnings.warn (attnscope.errors categories).
#pragma once
#include <functional>
#include <string>

namespace attnscope {

using WarningHandler = std::function<void(const std::string& key, const std::string& message)>;

// Replaces the handler (an empty function restores the default); returns the previous one.
// The handler may be called from any thread that runs library code.
WarningHandler set_warning_handler(WarningHandler handler);
// Reports one warning through the current handler.
void warn(const std::string& key, const std::string& message);

}  // namespace attnscope
