// `attnscope info`: what a model is (architecture, sizes, tokenizer, hook points) and, for a GGUF
// file, what the file holds (version, metadata, tensor types).
#include <iostream>
#include <map>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "cli/command.h"
#include "cli/model_common.h"

namespace attnscope::cli {
namespace {

struct InfoArgs {
  bool metadata = false;  // every GGUF metadata key
  bool hooks = false;     // every hook point
};

bool is_gguf_path(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  char m[4] = {};
  const bool ok = std::fread(m, 1, 4, f) == 4 && std::string(m, 4) == "GGUF";
  std::fclose(f);
  return ok;
}

int run_info(const Common& common, const InfoArgs& a) {
  const std::string path = model_or_default(common);
  nlohmann::json j;
  j["source"] = path;
  // The file itself (GGUF), even when it is not a runnable model (vocab-only files).
  std::optional<GgufFile> file;
  if (is_gguf_path(path)) {
    file = GgufFile::open(path);
    nlohmann::json f;
    f["gguf_version"] = file->version();
    f["size"] = file->file_size();
    f["metadata_count"] = file->metadata().size();
    f["tensor_count"] = file->tensors().size();
    std::map<std::string, int> types;
    for (const auto& t : file->tensors()) ++types[ggml_type_name(t.type)];
    f["tensor_types"] = types;
    if (a.metadata) {
      nlohmann::json md = nlohmann::json::object();
      for (const auto& key : file->metadata_keys()) md[key] = file->get(key).to_display(16);
      f["metadata"] = md;
    }
    j["file"] = f;
  }
  std::string model_error;
  std::optional<Model> model;
  try {
    model = load_model(common);
  } catch (const Error& e) {
    if (!file) throw;  // not a GGUF: nothing else to show
    model_error = e.what();
  }
  if (model) {
    j["model"] = nlohmann::json::parse(config_json(model->config()));
    j["model"]["parameters"] = model->parameter_count();
    if (model->has_tokenizer()) {
      const Tokenizer& t = model->tokenizer();
      j["tokenizer"] = {{"kind", t.kind()},
                        {"vocab_size", t.vocab_size()},
                        {"bos_id", t.bos_id()},
                        {"eos_id", t.eos_id()},
                        {"add_bos", t.add_bos_default()}};
    } else {
      j["tokenizer"] = nullptr;
    }
    auto names = model->hook_names();
    j["hook_points"] = names.size();
    if (a.hooks) j["hooks"] = names;
  } else {
    j["model_error"] = model_error;
  }

  if (common.json) {
    std::cout << dump_json(j) << "\n";
    return 0;
  }
  std::cout << "source:      " << path << "\n";
  if (j.contains("file")) {
    const auto& f = j["file"];
    std::cout << "file:        GGUF v" << f["gguf_version"] << ", " << f["size"] << " bytes, " << f["metadata_count"]
              << " metadata keys, " << f["tensor_count"] << " tensors";
    std::string sep = " (";
    for (const auto& [type, n] : f["tensor_types"].items()) {
      std::cout << sep << n.get<int>() << " " << type;
      sep = ", ";
    }
    std::cout << (sep == ", " ? ")" : "") << "\n";
    if (a.metadata)
      for (const auto& [k, v] : f["metadata"].items()) std::cout << "  " << k << " = " << v.get<std::string>() << "\n";
  }
  if (!model) {
    std::cout << "model:       not runnable: " << model_error << "\n";
    return 0;
  }
  const ModelConfig& c = model->config();
  std::cout << "name:        " << c.name << "\n"
            << "arch:        " << c.arch << "\n"
            << "parameters:  " << model->parameter_count() << "\n"
            << "layers:      " << c.n_layer << "\n"
            << "width:       " << c.n_embd << " (ffn " << c.n_ff << ")\n"
            << "heads:       " << c.n_head << " (kv heads " << c.n_head_kv << ", head dim " << c.head_dim << ")\n"
            << "vocab:       " << c.n_vocab << "\n"
            << "context:     " << c.n_ctx << "\n"
            << "rope:        " << (c.rope_layout == RopeLayout::Interleaved ? "interleaved" : "neox") << ", dim "
            << c.rope_dim << ", base " << c.rope_base
            << (c.rope_freq_factors.empty() ? "" : ", scaled (per-frequency factors)") << "\n"
            << "norm:        " << (c.norm == NormKind::RMSNorm ? "RMSNorm" : "LayerNorm") << ", eps " << c.norm_eps
            << "\n"
            << "output head: " << (c.tied_embeddings ? "tied to token embeddings" : "separate") << "\n"
            << "qkv bias:    " << (c.qkv_bias ? "yes" : "no") << "\n";
  for (const auto& f : architecture_features(c)) std::cout << "feature:     " << f << "\n";
  if (model->has_tokenizer()) {
    const Tokenizer& t = model->tokenizer();
    std::cout << "tokenizer:   " << t.kind() << ", " << t.vocab_size() << " tokens, BOS " << t.bos_id() << ", EOS "
              << t.eos_id() << (t.add_bos_default() ? ", adds BOS" : "") << "\n";
  } else {
    std::cout << "tokenizer:   none\n";
  }
  std::cout << "hook points: " << j["hook_points"] << "\n";
  if (a.hooks)
    for (const auto& n : model->hook_names()) std::cout << "  " << n << "\n";
  return 0;
}

const CommandRegistrar reg{{"info", "show a model's architecture, tokenizer and file contents",
                            [](CLI::App& sub, Common& common) -> std::function<int()> {
                              auto a = std::make_shared<InfoArgs>();
                              add_common_options(sub, common);
                              sub.add_flag("--metadata", a->metadata, "list every GGUF metadata key");
                              sub.add_flag("--hooks", a->hooks, "list every hook point");
                              return [&common, a] { return run_info(common, *a); };
                            }}};

}  // namespace
}  // namespace attnscope::cli
