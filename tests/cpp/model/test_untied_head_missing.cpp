// A checkpoint whose config.json says tie_word_embeddings: false but that stores no lm_head:
// transformers warns (and initialises a random head); attnscope warns through the library's
// warning channel and ties, instead of tying silently (issue 13).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "attnscope/warnings.h"
#include "formats/safetensors.h"

using namespace attnscope;
namespace fs = std::filesystem;

TEST(UntiedHeadMissing, WarnsAndTiesTheInputEmbedding) {
  const std::string src = std::string(ATTNSCOPE_MODELS_DIR) + "/safetensors/stories260K-hf";
  const fs::path dir = fs::temp_directory_path() / ("attnscope_untied_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src + "/config.json"));
    ASSERT_EQ(cfg["tie_word_embeddings"], false);
    std::ofstream(dir / "config.json") << cfg.dump(2);
    const SafetensorsFile f = SafetensorsFile::open(src + "/model.safetensors");
    SafetensorsWriter w;
    for (const auto& t : f.tensors())
      if (t.name != "lm_head.weight") w.add_f32(t.name, f.load_tensor(t.name));
    w.write((dir / "model.safetensors").string());
  }
  std::vector<std::pair<std::string, std::string>> seen;
  const WarningHandler previous =
      set_warning_handler([&](const std::string& key, const std::string& message) { seen.emplace_back(key, message); });
  LoadOptions opt;
  opt.tokenizer = std::string(ATTNSCOPE_MODELS_DIR) + "/stories260K.gguf";
  const Model m = Model::load(dir.string(), opt);
  set_warning_handler(previous);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].first, "model.untied_head_missing");
  EXPECT_NE(seen[0].second.find("tie_word_embeddings: false"), std::string::npos) << seen[0].second;
  EXPECT_TRUE(m.config().tied_embeddings);

  // The intact checkpoint loads without a warning.
  seen.clear();
  set_warning_handler([&](const std::string& key, const std::string& message) { seen.emplace_back(key, message); });
  (void)Model::load(src, opt);
  set_warning_handler(previous);
  EXPECT_TRUE(seen.empty());
  fs::remove_all(dir);
}
