// The built-in toy model: its heads do what they were built for, it really copies, and the
// detectors find exactly the constructed heads on many texts and seeds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>

#include "attnscope/analysis.h"
#include "attnscope/error.h"
#include "attnscope/model.h"
#include "attnscope/model_config.h"
#include "model/toy_model.h"

using namespace attnscope;

namespace {

const Model& toy() {
  static const Model m = Model::load("attnscope:toy");
  return m;
}

std::map<int, Tensor> patterns_of(const std::vector<int32_t>& ids) {
  RunOptions ro;
  ro.capture = {"blocks.*.attn.hook_pattern"};
  ro.return_logits = false;
  return toy().run(ids, ro).attention_patterns();
}

// English-like texts with repeated words, deterministic per seed.
std::string random_text(uint32_t seed) {
  static const char* words[] = {"the",  "cat",   "sat",  "on",   "mat",  "a",   "dog", "ran",  "to",    "park",
                                "and",  "saw",   "big",  "red",  "ball", "she", "he",  "was",  "happy", "little",
                                "girl", "named", "Lily", "tree", "with", "her", "mom", "went", "home",  "sun"};
  std::mt19937 rng(seed);
  std::string s;
  const int n = 8 + static_cast<int>(rng() % 12);
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += words[rng() % (sizeof words / sizeof *words)];
  }
  return s + ".";
}

std::vector<std::string> test_texts() {
  std::vector<std::string> t = {
      "The quick brown fox jumps over the lazy dog. The quick brown fox jumps again.",
      "Once upon a time, there was a little girl named Lily. She loved to play outside.",
      "attnscope shows what the attention heads of transformer language models do.",
      "int main() { return 0; } // a line of C code, then another: int x = 1;",
      "Zürich, Genève, Köln: bytes of UTF-8 text are tokens too (é, ü, ö).",
  };
  for (uint32_t s = 0; s < 20; ++s) t.push_back(random_text(s));
  return t;
}

using HeadList = std::vector<std::pair<int, int>>;

}  // namespace

TEST(ToyModel, ConfigAndByteTokenizer) {
  const ModelConfig& c = toy().config();
  EXPECT_EQ(c.arch, "llama");
  EXPECT_EQ(c.n_layer, 2);
  EXPECT_EQ(c.n_head, 4);
  EXPECT_EQ(c.n_vocab, 260);
  const std::string text = "Hi there, é!";
  const std::vector<int32_t> ids = toy().encode(text);
  ASSERT_EQ(ids.size(), 1 + text.size());  // BOS + one token per byte
  EXPECT_EQ(ids[0], toy().tokenizer().bos_id());
  EXPECT_EQ(toy().tokenizer().decode(ids), text);
  // The cache file carries its version in the name and is reused.
  const std::string p = detail::toy_model_path();
  EXPECT_NE(p.find("toy-v"), std::string::npos);
  EXPECT_EQ(detail::toy_model_path(), p);
}

TEST(ToyModel, CacheIsRewrittenWhenDamaged) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("attnscope-toy-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  const char* old = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old ? old : "";
  ::setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  const std::string p = detail::toy_model_path();
  EXPECT_EQ(fs::path(p).parent_path(), dir / "attnscope");
  const auto size = fs::file_size(p);
  { std::ofstream(p, std::ios::trunc) << "GGUF broken"; }
  EXPECT_EQ(detail::toy_model_path(), p);
  EXPECT_EQ(fs::file_size(p), size);
  EXPECT_NO_THROW(Model::load(p));
  // A cache directory that cannot be created falls back to the temporary directory.
  ::setenv("XDG_CACHE_HOME", "/dev/null/not-a-directory", 1);
  const std::string fallback = detail::toy_model_path();
  EXPECT_EQ(fs::path(fallback).parent_path().parent_path(), fs::temp_directory_path());
  if (old)
    ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else
    ::unsetenv("XDG_CACHE_HOME");
  fs::remove_all(dir);
}

TEST(ToyModel, PositionalHeadsAreSharpOverTheWholeContext) {
  std::mt19937 rng(7);
  std::vector<int32_t> ids = {toy().tokenizer().bos_id()};
  while (ids.size() < 512) ids.push_back(3 + static_cast<int32_t>(rng() % 256));
  const auto pats = patterns_of(ids);
  const Tensor& l0 = pats.at(0);
  const int64_t t = static_cast<int64_t>(ids.size());
  auto a = [&](int h, int64_t i, int64_t j) { return l0.at({0, h, i, j}); };
  float prev = 1, pp = 1, first = 1, cur = 1;
  for (int64_t i = 2; i < t; ++i) {
    prev = std::min(prev, a(0, i, i - 1));
    pp = std::min(pp, a(1, i, i - 2));
    first = std::min(first, a(2, i, 0));
    cur = std::min(cur, a(3, i, i));
  }
  EXPECT_GT(prev, 0.999f);
  EXPECT_GT(pp, 0.999f);
  EXPECT_GT(first, 0.999f);
  EXPECT_GT(cur, 0.999f);
}

TEST(ToyModel, InductionHeadReallyCopies) {
  // BOS + 50 random printable bytes (drawn WITH replacement) twice; greedy predictions of the
  // second copy's tokens 2..50 (token 1 follows the first copy's last token: not predictable).
  const auto& tok = toy().tokenizer();
  double total = 0;
  for (uint32_t seed = 0; seed < 20; ++seed) {
    std::mt19937 rng(1000 + seed);
    std::vector<int32_t> seg;
    for (int i = 0; i < 50; ++i) seg.push_back(3 + 0x21 + static_cast<int32_t>(rng() % 94));
    std::vector<int32_t> ids = {tok.bos_id()};
    ids.insert(ids.end(), seg.begin(), seg.end());
    ids.insert(ids.end(), seg.begin(), seg.end());
    RunOptions ro;
    const Trace tr = toy().run(ids, ro);
    const Tensor& logits = tr.logits;  // [1, T, V]
    const int64_t v = logits.dim(2);
    int right = 0, n = 0;
    for (int64_t i = 51; i < 100; ++i) {
      const float* row = logits.data() + i * v;
      const int64_t best = std::max_element(row, row + v) - row;
      right += (best == ids[i + 1]);
      ++n;
    }
    const double acc = static_cast<double>(right) / n;
    EXPECT_GE(acc, 0.9) << "seed " << seed;
    total += acc;
  }
  EXPECT_GE(total / 20, 0.95);
  std::cout << "greedy accuracy on the second copy, mean over 20 seeds: " << total / 20 << "\n";
}

TEST(ToyModel, DetectHeadTypesFindsExactlyTheConstructedHeads) {
  const auto texts = test_texts();
  ASSERT_GE(texts.size(), 20u);
  for (const auto& text : texts) {
    const HeadTypeReport r = detect_head_types(toy(), text);
    ASSERT_EQ(r.heads.size(), 8u);
    EXPECT_TRUE(r.has_repeats) << text;
    EXPECT_EQ(r.heads_of("previous_token"), (HeadList{{0, 0}})) << text;
    EXPECT_EQ(r.heads_of("first_token"), (HeadList{{0, 2}})) << text;
    EXPECT_EQ(r.heads_of("current_token"), (HeadList{{0, 3}})) << text;
    EXPECT_EQ(r.heads_of("induction"), (HeadList{{1, 0}})) << text;
    EXPECT_EQ(r.heads_of("duplicate_token"), HeadList{}) << text;
    EXPECT_EQ(r.heads_of("unknown"), (HeadList{{0, 1}, {1, 1}, {1, 2}, {1, 3}})) << text;
  }
  // mlxterp's call style (one threshold 0.3 for every type) and raw scores find the same heads.
  AttentionPatternDetector raw = AttentionPatternDetector::uniform_threshold(0.3);
  raw.options.chance_corrected = false;
  for (size_t i = 0; i < 5; ++i) {
    for (const HeadTypeReport& r : {detect_head_types(toy(), texts[i], 0.3), detect_head_types(toy(), texts[i], raw)}) {
      EXPECT_EQ(r.heads_of("previous_token"), (HeadList{{0, 0}})) << texts[i];
      EXPECT_EQ(r.heads_of("first_token"), (HeadList{{0, 2}})) << texts[i];
      EXPECT_EQ(r.heads_of("current_token"), (HeadList{{0, 3}})) << texts[i];
      EXPECT_EQ(r.heads_of("induction"), (HeadList{{1, 0}})) << texts[i];
    }
  }
  // A layer subset only reports those layers.
  const HeadTypeReport l1 = detect_head_types(toy(), texts[0], std::nullopt, {1});
  ASSERT_EQ(l1.heads.size(), 4u);
  EXPECT_EQ(l1.heads_of("induction"), (HeadList{{1, 0}}));
}

TEST(ToyModel, DetectInductionHeadsFindsExactlyL1H0) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const InductionScan s = detect_induction_heads(toy(), 50, 2, 0.3, seed);
    ASSERT_EQ(s.heads.size(), 1u) << seed;
    EXPECT_EQ(s.heads[0].layer, 1);
    EXPECT_EQ(s.heads[0].head, 0);
    EXPECT_GT(s.heads[0].score, 0.9);
    ASSERT_EQ(s.all.size(), 8u);
    EXPECT_LT(s.all[1].score, 0.1);
  }
  // Deterministic for a seed; three repeats and several seeds work too.
  EXPECT_EQ(detect_induction_heads(toy()).sequences, detect_induction_heads(toy()).sequences);
  InductionOptions o;
  o.n_random_tokens = 30;
  o.n_repeats = 3;
  o.n_seeds = 4;
  const InductionScan s = detect_induction_heads(toy(), o);
  ASSERT_EQ(s.sequences.size(), 4u);
  EXPECT_EQ(s.sequences[0].size(), 91u);
  ASSERT_EQ(s.heads.size(), 1u);
  // In the third copy the head splits its weight between the two earlier copies, and
  // induction_score(A, n) only counts the latest one: (n + 2 + n / 2) / (2n + 3) ~ 0.74.
  EXPECT_GE(s.heads[0].min, 0.7);
  EXPECT_LE(s.heads[0].max, 0.8);
  EXPECT_GE(s.heads[0].stddev, 0.0);
  // Random tokens are ordinary (printable byte tokens for this byte vocabulary), never BOS/EOS.
  for (int32_t id : s.sequences[0]) {
    if (id == toy().tokenizer().bos_id()) continue;
    const std::string str = toy().tokenizer().token_to_str(id);
    EXPECT_TRUE(id == 259 || (id >= 3 + 0x21 && id <= 3 + 0x7E)) << id << " " << str;
  }
}

namespace {
// The guide's custom pattern functions, written against the C++ API.
double diagonal_score(const Tensor& a) {
  double s = 0;
  for (int64_t i = 0; i < a.dim(0); ++i) s += a.at({i, i});
  return s / static_cast<double>(a.dim(0));
}
double local_window_score(const Tensor& a, int window = 3) {
  double s = 0;
  int64_t count = 0;
  const int64_t n = a.dim(0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = std::max<int64_t>(0, i - window); j < std::min(n, i + 1); ++j) {
      s += a.at({i, j});
      ++count;
    }
  return count ? s / static_cast<double>(count) : 0.0;
}
double sparse_attention_score(const Tensor& a, double sparsity_threshold = 0.1) {
  const int64_t n = a.dim(0), k = a.dim(1);
  double count = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) count += a.at({i, j}) > sparsity_threshold;
  return 1.0 - (count / static_cast<double>(n)) / static_cast<double>(k);
}
double content_vs_position_score(const Tensor& a) {
  const int64_t n = a.dim(0), k = a.dim(1);
  auto var = [&](bool along_rows) {  // mean over lines of the variance along the other axis
    const int64_t lines = along_rows ? k : n, len = along_rows ? n : k;
    double total = 0;
    for (int64_t l = 0; l < lines; ++l) {
      double m = 0, m2 = 0;
      for (int64_t x = 0; x < len; ++x) {
        const double v = along_rows ? a.at({x, l}) : a.at({l, x});
        m += v;
        m2 += v * v;
      }
      m /= static_cast<double>(len);
      total += m2 / static_cast<double>(len) - m * m;
    }
    return total / static_cast<double>(lines);
  };
  const double row_variance = var(true), col_variance = var(false);
  const double total = row_variance + col_variance;
  return total < 1e-6 ? 0.5 : col_variance / total;
}
Tensor one_hot(int64_t t, int shift_or_sink) {  // shift >= 0: row p -> max(p - shift, 0); -1: column 0
  Tensor a({t, t});
  for (int64_t p = 0; p < t; ++p) a.at({p, shift_or_sink < 0 ? 0 : std::max<int64_t>(0, p - shift_or_sink)}) = 1.0f;
  return a;
}
}  // namespace

TEST(ToyModel, CustomPatternsFromTheGuide) {
  const std::string text = "Custom patterns: the toy model's heads are easy to tell apart here.";
  const std::vector<int32_t> ids = toy().encode(text);
  const int64_t t = static_cast<int64_t>(ids.size());
  const auto pats = patterns_of(ids);
  // The ideal patterns of the constructed layer-0 heads (prev, two back, sink, current).
  const Tensor ideal[4] = {one_hot(t, 1), one_hot(t, 2), one_hot(t, -1), one_hot(t, 0)};
  const std::vector<std::pair<const char*, PatternFn>> fns = {
      {"diagonal", diagonal_score},
      {"local_window", [](const Tensor& a) { return local_window_score(a); }},
      {"sparse", [](const Tensor& a) { return sparse_attention_score(a); }},
      {"content_vs_position", content_vs_position_score}};
  for (const auto& [name, fn] : fns)
    for (int h = 0; h < 4; ++h) EXPECT_NEAR(fn(head_pattern(pats.at(0), h)), fn(ideal[h]), 1e-3) << name << " L0H" << h;

  PatternRegistry reg;
  reg.register_pattern("diagonal", diagonal_score, 0.3);
  reg.register_pattern(
      "local_window", [](const Tensor& a) { return local_window_score(a); }, 0.2);
  reg.register_pattern(
      "sparse", [](const Tensor& a) { return sparse_attention_score(a); }, 0.7);
  reg.register_pattern("content_vs_position", content_vs_position_score, 0.9);
  reg.register_pattern(
      "concentrated", [](const Tensor& a) { return 1.0 - normalized_pattern_entropy(a); }, 0.5);
  const auto found = reg.detect_all(toy(), text);
  auto heads = [&](const char* name) {
    HeadList out;
    for (const auto& m : found.at(name)) out.emplace_back(m.layer, m.head);
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(heads("diagonal"), (HeadList{{0, 3}}));
  // A window of 4 keys holds all of a local head's weight: 1/4 of the window mass per row.
  EXPECT_EQ(heads("local_window"), (HeadList{{0, 0}, {0, 1}, {0, 3}}));
  // The guide's sparsity counts entries above 0.1, which a uniform row of > 10 keys has none
  // of: every head passes, the all-uniform layer-1 heads included (a known weakness).
  EXPECT_EQ(heads("sparse").size(), 8u);
  // Entropy tells the constructed heads from the uniform ones.
  EXPECT_EQ(heads("concentrated"), (HeadList{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {1, 0}}));
  // Variance inside rows vs inside columns: only the sink's constant column scores near 1.
  EXPECT_EQ(heads("content_vs_position"), (HeadList{{0, 2}}));
  EXPECT_EQ(find_attention_pattern(toy(), text, diagonal_score, 0.3).size(), 1u);
}

TEST(ToyModel, BadInputsAreClearErrors) {
  auto expect_error = [](auto fn, const char* needle) {
    try {
      fn();
      ADD_FAILURE() << "no error, expected one mentioning '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([] { detect_head_types(toy(), ""); }, "empty");
  expect_error([] { detect_head_types(toy(), "a"); }, "single token");
  expect_error([] { detect_head_types(toy(), "hello", std::nullopt, {2}); }, "layer 2");
  expect_error([] { detect_head_types(toy(), "hello", std::nullopt, {-1}); }, "layer -1");
  expect_error([] { detect_head_types(toy(), "hello", 1.5); }, "threshold");
  expect_error([] { detect_head_types(toy(), "hello", -0.1); }, "threshold");
  expect_error([] { detect_induction_heads(toy(), 300); }, "context");
  expect_error([] { detect_induction_heads(toy(), 1); }, "n_random_tokens");
  expect_error([] { detect_induction_heads(toy(), 50, 1); }, "n_repeats");
  expect_error([] { detect_induction_heads(toy(), 50, 2, 1.01); }, "threshold");
  expect_error([] { detect_induction_heads(toy(), 50, 2, 0.3, 42, {5}); }, "layer 5");
  expect_error([] { find_attention_pattern(toy(), "", diagonal_score); }, "empty");
  expect_error([] { find_attention_pattern(toy(), "hi", diagonal_score, 2.0); }, "threshold");
  expect_error([] { PatternRegistry().detect_all(toy(), "hi", {9}); }, "layer 9");
  expect_error([] { detect_head_types(toy(), std::string(600, 'x')); }, "context");
  // A one-token text is fine for custom patterns (every head's pattern is [[1, 0], [x, y]]).
  EXPECT_NO_THROW(find_attention_pattern(toy(), "a", diagonal_score, 0.0));
}
