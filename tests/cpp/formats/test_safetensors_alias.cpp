// Tensors shared by two names, saved once: safetensors' save_model (what transformers uses)
// drops the second name and records {"dropped": "kept"} in __metadata__
// (safetensors/torch.py, _remove_duplicate_names: metadata[to_remove] = kept_name). Reading the
// checkpoint gives the dropped name the kept tensor back; other metadata is left alone.
#include <gtest/gtest.h>

#include <filesystem>

#include "common/test_files.h"
#include "formats/hf_checkpoint.h"
#include "formats/safetensors.h"

using namespace attnscope;
namespace fs = std::filesystem;

TEST(SafetensorsAlias, MetadataAliasGivesTheKeptTensor) {
  const fs::path dir = test::temp_path("ck");
  fs::remove_all(dir);
  fs::create_directories(dir);
  SafetensorsWriter w;
  w.add_f32("lm_head.weight", test::ramp({3, 2}));
  w.add_f32("model.norm.weight", test::ramp({2}, 10.0f));
  w.set_metadata("format", "pt");
  w.set_metadata("model.embed_tokens.weight", "lm_head.weight");
  w.set_metadata("model.norm.weight", "lm_head.weight");  // never hides a stored tensor
  w.set_metadata("unused.weight", "no.such.tensor");      // names nothing stored: ignored
  w.write((dir / "model.safetensors").string());

  const auto tensors = read_hf_tensors(dir.string(), HfQuantization{});
  ASSERT_EQ(tensors.size(), 3u);
  const Tensor& head = tensors.at("lm_head.weight");
  const Tensor& embed = tensors.at("model.embed_tokens.weight");
  ASSERT_EQ(embed.shape(), head.shape());
  for (int64_t i = 0; i < head.numel(); ++i) EXPECT_EQ(embed.data()[i], head.data()[i]);
  EXPECT_EQ(tensors.at("model.norm.weight").data()[0], 10.0f);
  EXPECT_EQ(tensors.count("format"), 0u);
  EXPECT_EQ(tensors.count("unused.weight"), 0u);
  // As stored: the alias says which tensor it shares (its bytes are not counted twice on load).
  const auto stored = open_hf_tensors(dir.string(), HfQuantization{});
  EXPECT_EQ(stored.at("model.embed_tokens.weight").alias_of, "lm_head.weight");
  EXPECT_EQ(stored.at("lm_head.weight").alias_of, "");
  fs::remove_all(dir);
}

// The published TinyStories-656K checkpoint is stored so (trained/README.md).
TEST(SafetensorsAlias, TinyStories656KEmbeddingIsTheStoredHead) {
  const std::string dir = test::model_path("trained/tinystories-656k");
  EXPECT_EQ(SafetensorsFile::open(dir + "/model.safetensors").find("model.embed_tokens.weight"), nullptr);
  const auto tensors = read_hf_tensors(dir, HfQuantization{});
  ASSERT_TRUE(tensors.count("model.embed_tokens.weight"));
  EXPECT_EQ(tensors.at("model.embed_tokens.weight").shape(), Shape({2048, 128}));
  const Tensor& embed = tensors.at("model.embed_tokens.weight");
  const Tensor& head = tensors.at("lm_head.weight");
  for (int64_t i = 0; i < head.numel(); ++i) ASSERT_EQ(embed.data()[i], head.data()[i]) << i;
}
