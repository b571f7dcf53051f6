// Shared by the model commands (info, tokens, generate, trace): loading the -m model with -t,
// parsing id lists, and JSON views of configs and traces.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "cli/command.h"

namespace attnscope::cli {

// The model -m names (toy model by default), loaded with -t threads.
Model load_model(const Common& common);
// "1,2, 3" or "1 2 3" -> ids; InvalidArgument naming the bad item.
std::vector<int32_t> parse_id_list(const std::string& text);
// JSON text for stdout. Strings that are not valid UTF-8 (half a character from decoding one
// token, a prompt in another encoding) get U+FFFD instead of aborting the output; commands put
// the exact bytes in their own fields (ids, *_bytes) where they matter. indent < 0: one line.
std::string dump_json(const nlohmann::json& j, int indent = 2);
// Shapes of every captured hook: {"blocks.0.attn.hook_pattern": [1, 8, 6, 6], ...}.
nlohmann::json captured_shapes_json(const Trace& trace);
// A token given on the command line: `id` when >= 0, else the one token `text` encodes to (without
// BOS; Model::to_single_token), else -1 when both are empty. InvalidArgument (naming `what` and its
// `what`-id option) when the text is no token or several.
int32_t resolve_token(const Model& model, const std::string& text, int id, const std::string& what);

}  // namespace attnscope::cli
