// `attnscope tokens`: how a model's tokenizer splits a text (ids and per-token strings), or what
// a list of ids decodes to (--ids).
#include <iostream>

#include "attnscope/error.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/model_common.h"

namespace attnscope::cli {
namespace {

struct TokensArgs {
  std::string text;
  std::string ids;  // decode these instead
  bool no_bos = false;
};

int run_tokens(const Common& common, const TokensArgs& a) {
  Model model = load_model(common);
  const Tokenizer& tok = model.tokenizer();
  std::vector<int32_t> ids;
  if (!a.ids.empty()) {
    ids = parse_id_list(a.ids);
    for (int32_t id : ids)
      if (id < 0 || id >= tok.vocab_size())
        fail(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                             std::to_string(tok.vocab_size()) + ")");
  } else {
    ids = model.encode(a.text, !a.no_bos);
  }
  const auto strs = tok.to_str_tokens(ids);
  const std::string text = tok.decode(ids);
  if (common.json) {
    nlohmann::json j;
    j["ids"] = ids;
    j["tokens"] = strs;
    std::vector<std::string> raw;
    for (int32_t id : ids) raw.push_back(tok.token_text(id));
    j["pieces"] = raw;
    j["text"] = text;
    j["count"] = ids.size();
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << ids.size() << " tokens\n";
  for (size_t i = 0; i < ids.size(); ++i)
    std::cout << i << "\t" << ids[i] << "\t" << nlohmann::json(strs[i]).dump() << "\n";
  if (!a.ids.empty()) std::cout << "text: " << text << "\n";
  return 0;
}

const CommandRegistrar reg{{"tokens", "Split a text into tokens (ids and strings), or decode --ids",
                            [](CLI::App& sub, Common& common) -> std::function<int()> {
                              auto a = std::make_shared<TokensArgs>();
                              add_common_options(sub, common);
                              sub.add_option("text", a->text, "text to tokenize");
                              sub.add_option("--ids", a->ids, "decode these token ids instead (\"1,2,3\")");
                              sub.add_flag("--no-bos", a->no_bos, "do not prepend BOS");
                              return [&common, a] { return run_tokens(common, *a); };
                            }}};

}  // namespace
}  // namespace attnscope::cli
