// The hook table (attnscope/hook_points.h): one row per hook point, and the name handling built on it.
#include "attnscope/hook_points.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "attnscope/error.h"
#include "attnscope/model_config.h"

namespace attnscope {

namespace {

// Which configs have a point.
enum class Needs : uint8_t { Always, LearnedPositions, PreNorms, QkNorm, Rope, SerialResidual, GatedMlp };

struct HookRow {
  HookPoint point;
  const char* suffix;  // the canonical name without "blocks.L."
  bool in_block;
  HookShape shape;
  Needs needs;
  // Hugging Face module paths that name this point: after "model.layers.L" for a block point,
  // whole names otherwise. Null-terminated.
  const char* aliases[3];
};

using S = HookShape;
constexpr HookRow kTable[] = {
    {HookPoint::Embed, "hook_embed", false, S::Stream, Needs::Always, {"model.embed_tokens"}},
    {HookPoint::PosEmbed, "hook_pos_embed", false, S::Stream, Needs::LearnedPositions, {}},
    {HookPoint::ResidPre, "hook_resid_pre", true, S::Stream, Needs::Always, {}},
    {HookPoint::Ln1Normalized, "ln1.hook_normalized", true, S::Stream, Needs::PreNorms, {".input_layernorm"}},
    {HookPoint::AttnQ, "attn.hook_q", true, S::QueryHeads, Needs::Always, {".self_attn.q_proj"}},
    {HookPoint::AttnK, "attn.hook_k", true, S::KvHeads, Needs::Always, {".self_attn.k_proj"}},
    {HookPoint::AttnV, "attn.hook_v", true, S::KvHeads, Needs::Always, {".self_attn.v_proj"}},
    {HookPoint::AttnQNorm, "attn.q_norm.hook_normalized", true, S::QueryHeads, Needs::QkNorm, {".self_attn.q_norm"}},
    {HookPoint::AttnKNorm, "attn.k_norm.hook_normalized", true, S::KvHeads, Needs::QkNorm, {".self_attn.k_norm"}},
    {HookPoint::AttnRotQ, "attn.hook_rot_q", true, S::QueryHeads, Needs::Rope, {}},
    {HookPoint::AttnRotK, "attn.hook_rot_k", true, S::KvHeads, Needs::Rope, {}},
    {HookPoint::AttnScores, "attn.hook_attn_scores", true, S::Square, Needs::Always, {}},
    {HookPoint::AttnPattern,
     "attn.hook_pattern",
     true,
     S::Square,
     Needs::Always,
     {".self_attn.attention_weights", ".self_attn.attn_weights"}},
    {HookPoint::AttnZ, "attn.hook_z", true, S::QueryHeads, Needs::Always, {}},
    {HookPoint::AttnResult, "attn.hook_result", true, S::HeadResult, Needs::Always, {}},
    {HookPoint::AttnOut, "hook_attn_out", true, S::Stream, Needs::Always, {".self_attn"}},
    {HookPoint::ResidMid, "hook_resid_mid", true, S::Stream, Needs::SerialResidual, {}},
    {HookPoint::Ln2Normalized, "ln2.hook_normalized", true, S::Stream, Needs::PreNorms, {".post_attention_layernorm"}},
    {HookPoint::MlpPre, "mlp.hook_pre", true, S::Mlp, Needs::Always, {}},
    {HookPoint::MlpPreLinear, "mlp.hook_pre_linear", true, S::Mlp, Needs::GatedMlp, {}},
    {HookPoint::MlpPost, "mlp.hook_post", true, S::Mlp, Needs::Always, {}},
    {HookPoint::MlpOut, "hook_mlp_out", true, S::Stream, Needs::Always, {".mlp"}},
    {HookPoint::ResidPost, "hook_resid_post", true, S::Stream, Needs::Always, {""}},
    {HookPoint::LnFinal, "ln_final.hook_normalized", false, S::Stream, Needs::Always, {"model.norm"}},
    {HookPoint::Logits, "logits", false, S::Logits, Needs::Always, {"lm_head", "output"}},
};
static_assert(sizeof(kTable) / sizeof(kTable[0]) == kHookPointCount, "one row per HookPoint");

constexpr bool rows_in_enum_order() {
  for (int i = 0; i < kHookPointCount; ++i)
    if (static_cast<int>(kTable[i].point) != i) return false;
  return true;
}
static_assert(rows_in_enum_order(), "kTable rows follow the HookPoint order");

const HookRow& row(HookPoint p) { return kTable[static_cast<int>(p)]; }

bool is_digits(const std::string& s) {
  return !s.empty() && s.size() <= 7 && s.find_first_not_of("0123456789") == std::string::npos;
}

bool has_wildcard(const std::string& s) { return s.find_first_of("*?") != std::string::npos; }

// mlxterp writes "model.model.layers.8.self_attn": drop one doubled "model." prefix.
std::string undouble(const std::string& name) { return name.rfind("model.model.", 0) == 0 ? name.substr(6) : name; }

// "blocks.L.<rest>" -> L, otherwise -1.
int block_layer(const std::string& name) {
  if (name.rfind("blocks.", 0) != 0) return -1;
  const size_t dot = name.find('.', 7);
  if (dot == std::string::npos || !is_digits(name.substr(7, dot - 7))) return -1;
  return std::stoi(name.substr(7, dot - 7));
}

}  // namespace

const char* hook_suffix(HookPoint p) { return row(p).suffix; }
bool hook_in_block(HookPoint p) { return row(p).in_block; }
HookShape hook_shape(HookPoint p) { return row(p).shape; }

int hook_head_axis(HookPoint p) {
  switch (hook_shape(p)) {
    case HookShape::Square:
      return 1;
    case HookShape::QueryHeads:
    case HookShape::HeadResult:
      return 2;
    default:
      return -1;
  }
}

bool hook_applies(HookPoint p, const ModelConfig& c) {
  switch (row(p).needs) {
    case Needs::Always:
      return true;
    case Needs::LearnedPositions:
      return c.learned_positions;
    case Needs::PreNorms:
      return c.pre_norms;
    case Needs::QkNorm:
      return c.qk_norm != QkNorm::None;
    case Needs::Rope:
      return c.rope_dim > 0;
    case Needs::SerialResidual:
      return !c.parallel_residual;
    case Needs::GatedMlp:
      return c.act == Activation::SwiGLU || c.act == Activation::GeGLU;
  }
  return false;
}

std::string hook_name(HookPoint p, int layer) {
  const HookRow& r = row(p);
  if (r.in_block != (layer >= 0))
    fail(ErrorKind::InvalidArgument,
         std::string("hook point ") + r.suffix +
             (r.in_block ? " belongs to a block: it needs a layer"
                         : " is outside the blocks: it takes no layer (got " + std::to_string(layer) + ")"));
  return r.in_block ? "blocks." + std::to_string(layer) + "." + r.suffix : r.suffix;
}

std::string hook_glob(HookPoint p) {
  return row(p).in_block ? std::string("blocks.*.") + row(p).suffix : row(p).suffix;
}

std::optional<HookRef> parse_hook_name(const std::string& name) {
  const int layer = block_layer(name);
  const std::string rest = layer >= 0 ? name.substr(name.find('.', 7) + 1) : name;
  for (const HookRow& r : kTable)
    if (r.in_block == (layer >= 0) && rest == r.suffix) return HookRef{r.point, layer};
  return std::nullopt;
}

std::optional<HookShape> hook_shape_of(const std::string& canonical) {
  const auto ref = parse_hook_name(canonical);
  return ref ? std::optional<HookShape>(hook_shape(ref->point)) : std::nullopt;
}

std::vector<std::string> model_hook_names(const ModelConfig& config) {
  std::vector<std::string> names;
  for (const HookRow& r : kTable)
    if (!r.in_block && r.point < HookPoint::ResidPre && hook_applies(r.point, config)) names.push_back(r.suffix);
  for (int l = 0; l < config.n_layer; ++l)
    for (const HookRow& r : kTable)
      if (r.in_block && hook_applies(r.point, config)) names.push_back(hook_name(r.point, l));
  for (const HookRow& r : kTable)
    if (!r.in_block && r.point > HookPoint::ResidPost && hook_applies(r.point, config)) names.push_back(r.suffix);
  return names;
}

std::optional<std::string> canonical_hook_name(const std::string& input) {
  const std::string name = undouble(input);
  if (parse_hook_name(name)) return name;
  for (const HookRow& r : kTable)
    if (!r.in_block)
      for (const char* alias : r.aliases)
        if (alias && name == alias) return std::string(r.suffix);
  static const std::string prefix = "model.layers.";
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  const size_t dot = name.find('.', prefix.size());
  const std::string layer =
      name.substr(prefix.size(), dot == std::string::npos ? std::string::npos : dot - prefix.size());
  if (!is_digits(layer)) return std::nullopt;
  const std::string rest = dot == std::string::npos ? "" : name.substr(dot);  // "" or ".<module path>"
  for (const HookRow& r : kTable)
    if (r.in_block)
      for (const char* alias : r.aliases)
        if (alias && rest == alias) return "blocks." + layer + "." + r.suffix;
  return std::nullopt;
}

bool hook_glob_match(const std::string& pattern, const std::string& name) {
  // Iterative wildcard match with backtracking to the last '*': linear in practice, no regex.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<std::string> match_hook_names(const std::string& entry_in, const std::vector<std::string>& hook_names) {
  const std::string entry = undouble(entry_in);
  const std::set<std::string> known(hook_names.begin(), hook_names.end());
  std::vector<std::string> out;
  if (!has_wildcard(entry)) {
    auto canonical = canonical_hook_name(entry);
    if (canonical && known.count(*canonical)) out.push_back(*canonical);
    return out;
  }
  std::set<std::string> hit;
  for (const auto& name : hook_names)
    if (hook_glob_match(entry, name)) hit.insert(name);
  // Globs over alias spellings ("model.layers.*.self_attn"): test every alias of this model.
  if (entry.rfind("model.", 0) == 0 || entry.rfind("lm_", 0) == 0 || entry[0] == '*' || entry[0] == '?') {
    int n_layer = 0;
    for (const auto& name : hook_names) n_layer = std::max(n_layer, block_layer(name) + 1);
    auto try_alias = [&](const std::string& alias) {
      if (!hook_glob_match(entry, alias)) return;
      auto canonical = canonical_hook_name(alias);
      if (canonical && known.count(*canonical)) hit.insert(*canonical);
    };
    for (const HookRow& r : kTable)
      for (const char* alias : r.aliases) {
        if (!alias) continue;
        if (!r.in_block) try_alias(alias);
        for (int l = 0; r.in_block && l < n_layer; ++l) try_alias("model.layers." + std::to_string(l) + alias);
      }
  }
  for (const auto& name : hook_names)  // forward order
    if (hit.count(name)) out.push_back(name);
  return out;
}

std::vector<std::string> hook_names_near(const std::string& name) {
  int layer = 0;
  if (name.starts_with("blocks.")) {
    const size_t end = name.find('.', 7);
    const std::string digits = name.substr(7, end == std::string::npos ? std::string::npos : end - 7);
    if (!digits.empty() && digits.size() < 6 &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
      layer = std::stoi(digits);
  }
  std::vector<std::string> out;
  for (int i = 0; i < kHookPointCount; ++i) {
    const auto p = static_cast<HookPoint>(i);
    out.push_back(hook_name(p, hook_in_block(p) ? layer : -1));
  }
  return out;
}

}  // namespace attnscope
