// `attnscope tokens`: how a model's tokenizer splits a text (ids and per-token strings), or what
// a list of ids decodes to (--ids).
#include <filesystem>
#include <iostream>
#include <optional>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "cli/command.h"
#include "cli/model_common.h"
#include "cli/options.h"

namespace attnscope::cli {
namespace {

struct TokensArgs {
  std::string text;
  std::string ids;  // decode these instead
  bool no_bos = false;
};

// -m may name a tokenizer alone (tokenizer.json, encoder.json, tokenizer.model, a directory of
// tokenizer files, a vocab-only GGUF): those load without a model. Anything else is a model.
bool is_tokenizer_only_gguf(const std::string& path) {
  if (path.size() < 5 || path.compare(path.size() - 5, 5, ".gguf") != 0) return false;
  if (!std::filesystem::is_regular_file(path)) return false;
  return GgufFile::open(path).tensors().empty();
}

bool names_tokenizer(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty() || !fs::exists(path)) return false;
  if (fs::is_directory(path)) return !fs::exists(fs::path(path) / "config.json");
  const std::string name = fs::path(path).filename().string();
  const std::string ext = fs::path(path).extension().string();
  return ext == ".json" || ext == ".model" || ext == ".bpe" || name == "merges.txt" || is_tokenizer_only_gguf(path);
}

int run_tokens(const Common& common, const TokensArgs& a) {
  std::unique_ptr<Tokenizer> own;
  std::optional<Model> model;
  if (common.tokenizer.empty() && names_tokenizer(common.model)) {
    own = Tokenizer::from_path(common.model);
  } else if (!common.tokenizer.empty() && common.model.empty()) {
    own = Tokenizer::from_path(common.tokenizer);  // a tokenizer alone is enough to tokenize
  } else {
    model.emplace(load_model(common));
  }
  const Tokenizer& tok = own ? *own : model->tokenizer();
  std::vector<int32_t> ids;
  if (!a.ids.empty()) {
    ids = parse_id_list(a.ids);
    for (int32_t id : ids)
      if (id < 0 || id >= tok.vocab_size())
        fail(ErrorKind::InvalidArgument, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                                             std::to_string(tok.vocab_size()) + ")");
  } else {
    ids = own ? own->encode(a.text, !a.no_bos && own->add_bos_default()) : model->encode(a.text, !a.no_bos);
  }
  const auto strs = tok.to_str_tokens(ids);
  const std::string text = tok.decode(ids);
  if (common.json) {
    nlohmann::json j;
    j["ids"] = ids;
    j["tokens"] = strs;
    // Decoded text is U+FFFD where the bytes are not UTF-8 (one token is often half a
    // character); the exact bytes are in text_bytes and, token by token, in token_bytes.
    std::vector<std::string> raw;
    std::vector<std::vector<uint8_t>> token_bytes;
    for (int32_t id : ids) {
      raw.push_back(valid_utf8(tok.token_text(id)));
      const std::string b = tok.decode({id});
      token_bytes.emplace_back(b.begin(), b.end());
    }
    j["pieces"] = raw;
    j["token_bytes"] = token_bytes;
    j["text"] = valid_utf8(text);
    j["text_bytes"] = std::vector<uint8_t>(text.begin(), text.end());
    j["count"] = ids.size();
    std::cout << dump_json(j) << "\n";
    return 0;
  }
  std::cout << ids.size() << " tokens\n";
  for (size_t i = 0; i < ids.size(); ++i) std::cout << i << "\t" << ids[i] << "\t" << dump_json(strs[i], -1) << "\n";
  if (!a.ids.empty()) std::cout << "text: " << valid_utf8(text) << "\n";
  return 0;
}

const CommandRegistrar reg{
    {"tokens",
     "split a text into tokens (ids and strings) with a model's or a tokenizer file's vocabulary, or decode --ids",
     [](CLI::App& sub, Common& common) -> std::function<int()> {
       auto a = std::make_shared<TokensArgs>();
       add_common_options(sub, common);
       add_text_argument(sub, a->text, "text to tokenize");
       add_ids_options(sub, a->ids, a->no_bos);
       return [&common, a] { return run_tokens(common, *a); };
     }}};

}  // namespace
}  // namespace attnscope::cli
