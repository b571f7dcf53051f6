// The check every family fixture gets: ../shared/models/arch/<family>/ holds a tiny random-weight
// Hugging Face checkpoint, the same weights as GGUF, and reference.json with token ids, every
// layer's attention pattern and the last position's logits from an independent float64
// implementation of the Hugging Face semantics (README.md in each folder says how it was made and
// where llama.cpp differs). Both files must reproduce it: patterns within 1e-5, last logits within
// 1e-4 of the reference logits' range.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "attnscope/gguf.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "common/test_files.h"

namespace attnscope::test {

inline std::string arch_fixture(const std::string& family) { return model_path("arch/" + family); }

struct ArchCheck {
  double max_pattern_diff = 0, max_logit_diff = 0, logit_range = 0;
  int cases = 0;
};

// Runs every case of reference.json through `model`; returns the worst differences.
inline ArchCheck check_against_reference(const Model& model, const std::string& family) {
  std::ifstream in(arch_fixture(family) + "/reference.json");
  EXPECT_TRUE(in.good()) << family;
  const nlohmann::json ref = nlohmann::json::parse(in);
  ArchCheck r;
  for (const auto& kase : ref.at("cases")) {
    const std::vector<int32_t> ids = kase.at("ids").get<std::vector<int32_t>>();
    RunOptions opt;
    opt.capture = {"blocks.*.attn.hook_pattern"};
    const Trace t = model.run(ids, opt);
    const auto& att = kase.at("attention");
    const auto patterns = t.attention_patterns();
    EXPECT_EQ(patterns.size(), att.size()) << family;
    const int64_t T = static_cast<int64_t>(ids.size());
    for (size_t l = 0; l < att.size() && l < patterns.size(); ++l) {
      const Tensor& p = patterns.at(static_cast<int>(l));
      EXPECT_EQ(p.shape(), Shape({1, static_cast<int64_t>(att[l].size()), T, T})) << family << " layer " << l;
      if (p.shape() != Shape({1, static_cast<int64_t>(att[l].size()), T, T})) continue;
      for (size_t h = 0; h < att[l].size(); ++h)
        for (int64_t q = 0; q < T; ++q)
          for (int64_t k = 0; k < T; ++k) {
            const double want = att[l][h][q][k].get<double>();
            const double got = p.data()[((static_cast<int64_t>(h) * T) + q) * T + k];
            r.max_pattern_diff = std::max(r.max_pattern_diff, std::fabs(got - want));
          }
    }
    const std::vector<double> want = kase.at("logits_last").get<std::vector<double>>();
    const auto [lo, hi] = std::minmax_element(want.begin(), want.end());
    r.logit_range = std::max(r.logit_range, *hi - *lo);
    EXPECT_EQ(t.logits.dim(2), static_cast<int64_t>(want.size())) << family;
    const float* last = t.logits.data() + (T - 1) * t.logits.dim(2);
    for (size_t i = 0; i < want.size() && static_cast<int64_t>(i) < t.logits.dim(2); ++i)
      r.max_logit_diff = std::max(r.max_logit_diff, std::fabs(last[i] - want[i]));
    ++r.cases;
  }
  return r;
}

// Capturing "*" yields exactly the model's hook_names(), each under its table shape: a hook point
// that is listed but never produced (or produced but not listed) fails here.
inline void expect_every_hook_produced(const Model& m, const std::vector<int32_t>& ids) {
  RunOptions opt;
  opt.capture = {"*"};
  const Trace t = m.run(ids, opt);
  std::vector<std::string> got;
  for (const auto& [name, value] : t.captured()) got.push_back(name);
  if (t.has("logits")) got.push_back("logits");
  std::vector<std::string> want = m.hook_names();
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
  const ModelConfig& c = m.config();
  const int64_t T = static_cast<int64_t>(ids.size());
  for (const auto& name : want) {
    if (!t.has(name)) continue;
    Shape shape;
    switch (hook_shape(parse_hook_name(name)->point)) {
      case HookShape::Stream:
        shape = {1, T, c.n_embd};
        break;
      case HookShape::QueryHeads:
        shape = {1, T, c.n_head, c.head_dim};
        break;
      case HookShape::KvHeads:
        shape = {1, T, c.n_head_kv, c.head_dim};
        break;
      case HookShape::Square:
        shape = {1, c.n_head, T, T};
        break;
      case HookShape::HeadResult:
        shape = {1, T, c.n_head, c.n_embd};
        break;
      case HookShape::Mlp:
        shape = {1, T, c.n_ff};
        break;
      case HookShape::Logits:
        shape = {1, T, c.n_vocab};
        break;
    }
    EXPECT_EQ(t.at(name).shape(), shape) << name;
  }
}

// Both files of a family against the reference, and every hook point produced.
inline void expect_family_matches_reference(const std::string& family) {
  for (const std::string& file : {arch_fixture(family) + "/model.gguf", arch_fixture(family)}) {
    SCOPED_TRACE(file);
    const Model m = Model::load(file);
    expect_every_hook_produced(m, {1, 5, 9, 2, 7});
    const ArchCheck r = check_against_reference(m, family);
    EXPECT_GE(r.cases, 1);
    EXPECT_LE(r.max_pattern_diff, 1e-5) << family;
    EXPECT_LE(r.max_logit_diff, 1e-4 * r.logit_range) << family << " (logit range " << r.logit_range << ")";
    std::printf("[ %s ] %s: %d cases, max |pattern diff| %.2e, max |logit diff| %.2e (range %.3g)\n", family.c_str(),
                file.c_str(), r.cases, r.max_pattern_diff, r.max_logit_diff, r.logit_range);
  }
}

// True if architecture_features(config) has a line containing `needle`.
inline bool has_feature(const ModelConfig& c, const std::string& needle) {
  for (const auto& f : architecture_features(c))
    if (f.find(needle) != std::string::npos) return true;
  return false;
}

// A temporary copy of a GGUF without the metadata keys in `drop` (for the fall-back defaults).
inline std::string gguf_without(const std::string& src_path, const std::vector<std::string>& drop,
                                const std::string& tag) {
  const std::string path = temp_path(tag + ".gguf");
  copy_gguf(src_path, path,
            {[&](const std::string& key) -> std::optional<std::string> {
               if (std::find(drop.begin(), drop.end(), key) != drop.end()) return std::nullopt;
               return key;
             },
             nullptr, nullptr});
  return path;
}

}  // namespace attnscope::test
