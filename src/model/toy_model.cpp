// The built-in toy model "attnscope:toy": a 2-layer byte-level Llama whose weights are written
// down, not trained, so that each head does a known job (README "The toy model" explains the
// construction; the numbers below were checked with a numpy prototype first).
//
// Residual stream (D = 512), one subspace per kind of information:
//   TOK  [0, 51)    the token's own code          PREV [51, 102)  code of the previous token
//   PP   [102, 153) code of the token two back    OUT  [153, 204) code of the predicted token
//   ONE  204        constant 2 on every token     BOSD 205        1 on BOS, <unk> and </s>
// Token codes: the Reed-Solomon codeword of c = (a, b) = (c / 17, c % 17) over GF(17) at the 3
// points x = 0, 1, 2 (a + b x mod 17), one-hot per point, scaled to unit length. Two different
// tokens agree in at most one point, so their codes overlap by at most 1/3.
// Heads (4 per layer, head_dim 128, rotary base 1e38 so that only pairs 0..4 turn noticeably
// over the context and pairs 6..63 hold position-free content):
//   L0H0 previous token, L0H1 two back (feeds the induction key), L0H2 first token (sink),
//   L0H3 current token, L1H0 induction (K-composition with L0H0/L0H1); L1H1..3 all-zero.
#include "model/toy_model.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

#include "attnscope/error.h"
#include "attnscope/gguf.h"

namespace attnscope::detail {

namespace {

constexpr uint32_t kToyVersion = 1;  // bump whenever the weights or metadata change
constexpr int kD = 512, kHeads = 4, kHeadDim = 128, kLayers = 2, kFF = 16, kCtx = 512;
constexpr float kRopeBase = 1e38f;
constexpr int kQ = 17, kCodePoints = 3, kCode = kQ * kCodePoints;  // 51
constexpr int kTok = 0, kPrev = kCode, kPP = 2 * kCode, kOut = 3 * kCode, kOne = 4 * kCode, kBosDim = kOne + 1;
constexpr int kVocab = 260;  // <unk> <s> </s>, 256 bytes, "▁"
constexpr int kUnk = 0, kBos = 1, kEos = 2, kByte0 = 3, kSpacePiece = 259;
constexpr double kOneValue = 2.0;
// Positional heads: score(delta) = sum_p w_p cos(theta_p (delta - shift)) over rotary pairs 0..4.
// These weights (rounded from a linear program) keep the peak >= 12.28 above every other offset
// in 0..600, so the head puts > 0.9999 on its target.
constexpr double kPosWeights[5] = {26.0, 11.0, 11.0, 6.5, 8.5};
constexpr double kSinkScore = 20.0;               // first-token head: BOS logit over every other key
constexpr double kMatchA = 40.0, kMatchB = 16.0;  // induction: current==key's previous, previous==key's two-back
constexpr int kContentPair0 = 6;                  // first rotary pair slow enough for content
constexpr double kUnembed = 2.0;

// Content index of a token (which code it carries); -1 for BOS (it carries BOSD instead).
int content_index(int t) {
  if (t >= kByte0 && t < kByte0 + 256) return t - kByte0;
  if (t == kSpacePiece) return 256;
  if (t == kUnk) return 257;
  if (t == kEos) return 258;
  return -1;
}

void put_code(float* dst, int c) {
  const int a = c / kQ, b = c % kQ;
  const float v = static_cast<float>(1.0 / std::sqrt(static_cast<double>(kCodePoints)));
  for (int x = 0; x < kCodePoints; ++x) dst[kQ * x + (a + b * x) % kQ] = v;
}

double theta(int pair) { return std::pow(static_cast<double>(kRopeBase), -2.0 * pair / kHeadDim); }

struct Mat {
  Tensor t;
  int64_t cols;
  Mat(int64_t rows, int64_t c) : t({rows, c}), cols(c) {}
  float& operator()(int64_t r, int64_t c) { return t.data()[r * cols + c]; }
};

Tensor ones(int64_t n) {
  Tensor t({n});
  std::fill(t.data(), t.data() + n, 1.0f);
  return t;
}

std::string byte_token(int b) {
  char name[8];
  std::snprintf(name, sizeof name, "<0x%02X>", b);
  return name;
}

}  // namespace

void write_toy_model(const std::string& path) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", "attnscope-toy");
  w.set_string("general.description",
               "attnscope built-in toy model: constructed (not trained) weights; L0H0 previous-token, "
               "L0H1 two-back, L0H2 first-token sink, L0H3 current-token, L1H0 induction");
  w.set_u32("attnscope.toy.version", kToyVersion);
  w.set_u32("llama.context_length", kCtx);
  w.set_u32("llama.embedding_length", kD);
  w.set_u32("llama.block_count", kLayers);
  w.set_u32("llama.feed_forward_length", kFF);
  w.set_u32("llama.attention.head_count", kHeads);
  w.set_u32("llama.attention.head_count_kv", kHeads);
  w.set_u32("llama.rope.dimension_count", kHeadDim);
  w.set_f32("llama.rope.freq_base", kRopeBase);
  w.set_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);

  // Tokenizer: SentencePiece-style with byte fallback, so every byte of any text is one token
  // (a space is the "▁" piece; no space prefix).
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(byte_token(b));
    types.push_back(6);
  }
  tokens.push_back("\xE2\x96\x81");
  types.push_back(1);
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_f32s("tokenizer.ggml.scores", std::vector<float>(tokens.size(), 0.0f));
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", kBos);
  w.set_u32("tokenizer.ggml.eos_token_id", kEos);
  w.set_u32("tokenizer.ggml.unknown_token_id", kUnk);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
  w.set_bool("tokenizer.ggml.add_space_prefix", false);

  // Embedding: code in TOK, constant in ONE; BOS has BOSD instead of a code. Every row has
  // |x|^2 = 1 + 4 = 5, so layer 0's RMSNorm scales every token alike.
  Mat emb(kVocab, kD);
  for (int t = 0; t < kVocab; ++t) {
    emb(t, kOne) = static_cast<float>(kOneValue);
    const int c = content_index(t);
    if (c < 0)
      emb(t, kBosDim) = 1.0f;
    else
      put_code(&emb(t, kTok), c);
  }
  w.add_tensor("token_embd.weight", emb.t);

  const double sq = std::sqrt(static_cast<double>(kHeadDim));       // the forward divides scores by it
  const double s0 = std::sqrt(kD / (1.0 + kOneValue * kOneValue));  // layer-0 RMSNorm gain
  const double one_hat = kOneValue * s0;                            // normalised ONE value
  const double s1 = std::sqrt(kD / 7.0);                            // layer-1 gain: |x|^2 = 5 + |prev|^2 + |two back|^2

  for (int l = 0; l < kLayers; ++l) {
    Mat q(kD, kD), k(kD, kD), v(kD, kD), o(kD, kD);
    if (l == 0) {
      // Positional heads: q and k come from ONE only, so q_i . k_j depends on i - j through RoPE
      // alone; k is q turned by `shift` steps, which moves the peak of the cosine sum to shift.
      struct Pos {
        int head, shift, dst;
      };
      for (const Pos& p : {Pos{0, 1, kPrev}, Pos{1, 2, kPP}, Pos{3, 0, -1}}) {
        for (int pair = 0; pair < 5; ++pair) {
          const double r = std::sqrt(kPosWeights[pair] * sq) / one_hat;
          const double a = theta(pair) * p.shift;
          q(p.head * kHeadDim + 2 * pair, kOne) = static_cast<float>(r);
          k(p.head * kHeadDim + 2 * pair, kOne) = static_cast<float>(r * std::cos(a));
          k(p.head * kHeadDim + 2 * pair + 1, kOne) = static_cast<float>(r * std::sin(a));
        }
        if (p.dst >= 0)  // copy the attended token's code into PREV / PP
          for (int i = 0; i < kCode; ++i) {
            v(p.head * kHeadDim + i, kTok + i) = static_cast<float>(1.0 / s0);
            o(p.dst + i, p.head * kHeadDim + i) = 1.0f;
          }
      }
      // Sink: query from ONE, key from BOSD, in the slowest pair (no rotation to speak of).
      const int pair = kHeadDim / 2 - 1;
      const double r = std::sqrt(kSinkScore * sq);
      q(2 * kHeadDim + 2 * pair, kOne) = static_cast<float>(r / one_hat);
      k(2 * kHeadDim + 2 * pair, kBosDim) = static_cast<float>(r / s0);
    } else {
      // Induction head: query = [own code, previous code], key = [previous code, two-back code]
      // (the key half is written by L0H0/L0H1: K-composition). It attends to j where
      // t[j-1] == t[i] and t[j-2] == t[i-1], and copies t[j]'s code into OUT.
      const int a0 = 2 * kContentPair0, b0 = a0 + kCode;
      const float ga = static_cast<float>(std::sqrt(kMatchA * sq) / s1);
      const float gb = static_cast<float>(std::sqrt(kMatchB * sq) / s1);
      for (int i = 0; i < kCode; ++i) {
        q(a0 + i, kTok + i) = ga;
        k(a0 + i, kPrev + i) = ga;
        q(b0 + i, kPrev + i) = gb;
        k(b0 + i, kPP + i) = gb;
        v(i, kTok + i) = static_cast<float>(1.0 / s1);
        o(kOut + i, i) = 1.0f;
      }
    }
    const std::string b = "blk." + std::to_string(l) + ".";
    w.add_tensor(b + "attn_norm.weight", ones(kD));
    w.add_tensor(b + "attn_q.weight", q.t);
    w.add_tensor(b + "attn_k.weight", k.t);
    w.add_tensor(b + "attn_v.weight", v.t);
    w.add_tensor(b + "attn_output.weight", o.t);
    w.add_tensor(b + "ffn_norm.weight", ones(kD));
    w.add_tensor(b + "ffn_gate.weight", Tensor({kFF, kD}));  // the MLPs are zero
    w.add_tensor(b + "ffn_up.weight", Tensor({kFF, kD}));
    w.add_tensor(b + "ffn_down.weight", Tensor({kD, kFF}));
  }
  w.add_tensor("output_norm.weight", ones(kD));
  // Unembedding reads OUT only: the logit of token t is proportional to code(t) . OUT.
  Mat out(kVocab, kD);
  for (int t = 0; t < kVocab; ++t) {
    const int c = content_index(t);
    if (c < 0 || t == kUnk || t == kEos) continue;
    put_code(&out(t, kOut), c);
    for (int i = 0; i < kCode; ++i) out(t, kOut + i) *= static_cast<float>(kUnembed);
  }
  w.add_tensor("output.weight", out.t);
  w.write(path);
}

namespace {

// The toy model file in `dir`, reused when it carries the current version, written otherwise.
std::string toy_model_in(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  const fs::path file = dir / ("toy-v" + std::to_string(kToyVersion) + ".gguf");
  std::error_code ec;
  if (fs::exists(file, ec)) {
    try {  // a truncated or foreign file under our name is rewritten
      const GgufFile f = GgufFile::open(file.string());
      if (f.get_int("attnscope.toy.version").value_or(0) == kToyVersion) return file.string();
    } catch (const Error&) {
    }
  }
  fs::create_directories(dir, ec);
  if (ec) fail(ErrorKind::Io, "toy model: cannot create cache directory " + dir.string() + ": " + ec.message());
  // Write under a name of our own, then rename: concurrent first uses never see a partial file.
  std::random_device rd;
  const fs::path tmp = dir / ("toy-v" + std::to_string(kToyVersion) + ".gguf." + std::to_string(::getpid()) + "." +
                              std::to_string(rd()) + ".part");
  try {
    write_toy_model(tmp.string());
  } catch (...) {
    fs::remove(tmp, ec);
    throw;
  }
  fs::rename(tmp, file, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fail(ErrorKind::Io, "toy model: cannot move the written model to " + file.string() + ": " + ec.message());
  }
  return file.string();
}

}  // namespace

std::string toy_model_path() {
  namespace fs = std::filesystem;
  const fs::path fallback = fs::temp_directory_path() / ("attnscope-" + std::to_string(::getuid()));
  fs::path dir = fallback;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    dir = fs::path(xdg) / "attnscope";
  else if (const char* home = std::getenv("HOME"); home && *home)
    dir = fs::path(home) / ".cache" / "attnscope";
  try {
    return toy_model_in(dir);
  } catch (const Error&) {
    if (dir == fallback) throw;
    return toy_model_in(fallback);  // e.g. a read-only home directory
  }
}

}  // namespace attnscope::detail
