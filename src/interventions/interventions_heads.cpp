// Head-level edits: ablate heads on hook_z, set a head's pattern, patch heads from another trace.
#include <algorithm>
#include <cstring>
#include <set>

#include "attnscope/error.h"
#include "attnscope/interventions.h"
#include "interventions/interventions_detail.h"

namespace attnscope::iv {

using detail::writable;

namespace {

// A [outer, H, inner] view of a hook value whose head axis is `axis`.
struct HeadLayout {
  int64_t outer = 1, heads = 0, inner = 1;
  HeadLayout(const Tensor& v, int axis, const std::string& where) {
    if (v.ndim() <= axis)
      fail(ErrorKind::InvalidArgument,
           where + ": value of shape " + v.shape_str() + " has no head axis " + std::to_string(axis));
    for (int i = 0; i < axis; ++i) outer *= v.dim(i);
    heads = v.dim(axis);
    for (int i = axis + 1; i < v.ndim(); ++i) inner *= v.dim(i);
  }
  int64_t offset(int64_t o, int64_t h) const { return (o * heads + h) * inner; }
};

void check_head(int head, int64_t n_head, const std::string& where) {
  if (head < 0 || head >= n_head)
    fail(ErrorKind::InvalidArgument, where + ": head " + std::to_string(head) + " out of range (the layer has " +
                                         std::to_string(n_head) + " heads)");
}

void check_layer(int layer, const std::string& what) {
  if (layer < 0) fail(ErrorKind::InvalidArgument, what + ": layer " + std::to_string(layer) + " is negative");
}

std::vector<int> checked_heads(std::vector<int> heads, const std::string& what) {
  if (heads.empty()) fail(ErrorKind::InvalidArgument, what + ": no heads given");
  std::set<int> seen;
  for (int h : heads) {
    if (h < 0) fail(ErrorKind::InvalidArgument, what + ": head " + std::to_string(h) + " is negative");
    if (!seen.insert(h).second) fail(ErrorKind::InvalidArgument, what + ": head " + std::to_string(h) + " given twice");
  }
  return heads;
}

std::string heads_str(const std::vector<int>& heads) {
  std::string s = "[";
  for (size_t i = 0; i < heads.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(heads[i]);
  }
  s += ']';
  return s;
}

// Per-head mean over batch and positions of a [B, T, H, Dh] value: [H, Dh].
Tensor mean_over_positions(const Tensor& z) {
  HeadLayout L(z, 2, "head mean");
  Tensor m({L.heads, L.inner});
  float* out = m.data();
  const float* p = z.data();
  for (int64_t o = 0; o < L.outer; ++o)
    for (int64_t h = 0; h < L.heads; ++h)
      for (int64_t d = 0; d < L.inner; ++d) out[h * L.inner + d] += p[L.offset(o, h) + d];
  if (L.outer > 0)
    for (int64_t i = 0; i < m.numel(); ++i) out[i] /= static_cast<float>(L.outer);
  return m;
}

// Writes the mean for head h into row o of z: means is [H, Dh] or [T, H, Dh] (o = b*T + t).
void write_mean(float* dst, const Tensor& means, const HeadLayout& L, const Tensor& z, int64_t o, int64_t h,
                const std::string& where) {
  const float* src = nullptr;
  if (means.ndim() == 2) {
    if (means.dim(0) != L.heads || means.dim(1) != L.inner)
      fail(ErrorKind::InvalidArgument,
           where + ": means of shape " + means.shape_str() + " do not fit hook_z " + z.shape_str());
    src = means.data() + h * L.inner;
  } else {
    const int64_t T = z.dim(1);
    if (means.ndim() != 3 || means.dim(0) != T || means.dim(1) != L.heads || means.dim(2) != L.inner)
      fail(ErrorKind::InvalidArgument,
           where + ": means of shape " + means.shape_str() + " do not fit hook_z " + z.shape_str());
    src = means.data() + ((o % T) * L.heads + h) * L.inner;
  }
  std::memcpy(dst + L.offset(o, h), src, sizeof(float) * static_cast<size_t>(L.inner));
}

}  // namespace

int head_axis(const std::string& hook) {
  const auto ref = parse_hook_name(hook);
  const int axis = ref ? hook_head_axis(ref->point) : -1;
  if (axis < 0)
    fail(ErrorKind::InvalidArgument, "'" + hook +
                                         "' has no query-head axis (head edits work on attn.hook_q, "
                                         "attn.hook_z, attn.hook_result, attn.hook_attn_scores, attn.hook_pattern "
                                         "and the q norm / rotated q)");
  return axis;
}

Intervention zero_ablate_heads(int layer, std::vector<int> heads) {
  check_layer(layer, "zero_ablate_heads");
  heads = checked_heads(std::move(heads), "zero_ablate_heads");
  const std::string target = hook_name(HookPoint::AttnZ, layer);
  return {target,
          [heads](Tensor& z, const HookContext& ctx) {
            HeadLayout L(z, 2, "zero_ablate_heads at " + ctx.name);
            for (int h : heads) check_head(h, L.heads, "zero_ablate_heads at " + ctx.name);
            float* p = writable(z);
            for (int64_t o = 0; o < L.outer; ++o)
              for (int h : heads) std::fill_n(p + L.offset(o, h), L.inner, 0.0f);
          },
          "zero-ablate heads " + heads_str(heads) + " @ " + target};
}

Intervention mean_ablate_heads(int layer, std::vector<int> heads, Tensor means) {
  check_layer(layer, "mean_ablate_heads");
  heads = checked_heads(std::move(heads), "mean_ablate_heads");
  if (!means.empty() && means.ndim() != 2 && means.ndim() != 3)
    fail(ErrorKind::InvalidArgument,
         "mean_ablate_heads: means must be [H, Dh] or [T, H, Dh], got " + means.shape_str());
  const std::string target = hook_name(HookPoint::AttnZ, layer);
  std::string desc =
      "mean-ablate heads " + heads_str(heads) + (means.empty() ? " (mean of this run)" : "") + " @ " + target;
  return {target,
          [heads, means](Tensor& z, const HookContext& ctx) {
            const std::string where = "mean_ablate_heads at " + ctx.name;
            HeadLayout L(z, 2, where);
            for (int h : heads) check_head(h, L.heads, where);
            Tensor m = means.empty() ? mean_over_positions(z) : means;
            float* p = writable(z);
            for (int64_t o = 0; o < L.outer; ++o)
              for (int h : heads) write_mean(p, m, L, z, o, h, where);
          },
          desc};
}

Tensor head_means(const Trace& trace, int layer) {
  return mean_over_positions(trace.at(hook_name(HookPoint::AttnZ, layer)));
}

Intervention set_head_pattern(int layer, int head, Tensor pattern) {
  check_layer(layer, "set_head_pattern");
  checked_heads({head}, "set_head_pattern");
  if (pattern.ndim() != 2 && pattern.ndim() != 3)
    fail(ErrorKind::InvalidArgument,
         "set_head_pattern: pattern must be [Tq, Tk] or [B, Tq, Tk], got " + pattern.shape_str());
  const std::string target = hook_name(HookPoint::AttnPattern, layer);
  std::string desc = "set pattern of head " + std::to_string(head) + " to " + pattern.shape_str() + " @ " + target;
  return {target,
          [head, pattern](Tensor& v, const HookContext& ctx) {
            const std::string where = "set_head_pattern at " + ctx.name;
            if (v.ndim() != 4)
              fail(ErrorKind::InvalidArgument, where + ": expected [B, H, Tq, Tk], got " + v.shape_str());
            check_head(head, v.dim(1), where);
            const int64_t B = v.dim(0), H = v.dim(1), Tq = v.dim(2), Tk = v.dim(3);
            const int64_t pb = pattern.ndim() == 3 ? pattern.dim(0) : 1;
            if (pattern.dim(-2) != Tq || pattern.dim(-1) != Tk || (pattern.ndim() == 3 && pb != B))
              fail(ErrorKind::InvalidArgument, where + ": pattern " + pattern.shape_str() + " does not fit " +
                                                   v.shape_str() + " (prompts must have the same length)");
            float* p = writable(v);
            const int64_t n = Tq * Tk;
            for (int64_t b = 0; b < B; ++b)
              std::memcpy(p + (b * H + head) * n, pattern.data() + (pb == 1 ? 0 : b) * n,
                          sizeof(float) * static_cast<size_t>(n));
          },
          desc};
}

Intervention set_head_pattern_uniform(int layer, int head) {
  check_layer(layer, "set_head_pattern_uniform");
  checked_heads({head}, "set_head_pattern_uniform");
  const std::string target = hook_name(HookPoint::AttnPattern, layer);
  return {target,
          [head](Tensor& v, const HookContext& ctx) {
            const std::string where = "set_head_pattern_uniform at " + ctx.name;
            if (v.ndim() != 4)
              fail(ErrorKind::InvalidArgument, where + ": expected [B, H, Tq, Tk], got " + v.shape_str());
            check_head(head, v.dim(1), where);
            const int64_t B = v.dim(0), H = v.dim(1), Tq = v.dim(2), Tk = v.dim(3);
            // With a cache the queries are the last Tq of Tk positions.
            const int64_t offset = Tk - Tq;
            if (offset < 0) fail(ErrorKind::InvalidArgument, where + ": more queries than keys in " + v.shape_str());
            float* p = writable(v);
            for (int64_t b = 0; b < B; ++b)
              for (int64_t q = 0; q < Tq; ++q) {
                float* row = p + ((b * H + head) * Tq + q) * Tk;
                const int64_t visible = q + offset + 1;
                const float w = 1.0f / static_cast<float>(visible);
                for (int64_t k = 0; k < Tk; ++k) row[k] = k < visible ? w : 0.0f;
              }
          },
          "set pattern of head " + std::to_string(head) + " to causal uniform @ " + target};
}

Tensor head_pattern(const Trace& trace, int layer, int head) {
  const Tensor& p = trace.at(hook_name(HookPoint::AttnPattern, layer));
  if (p.ndim() != 4) fail(ErrorKind::InvalidArgument, "head_pattern: captured pattern has shape " + p.shape_str());
  check_head(head, p.dim(1), "head_pattern of layer " + std::to_string(layer));
  const int64_t B = p.dim(0), H = p.dim(1), n = p.dim(2) * p.dim(3);
  Tensor out({B, p.dim(2), p.dim(3)});
  for (int64_t b = 0; b < B; ++b)
    std::memcpy(out.data() + b * n, p.data() + (b * H + head) * n, sizeof(float) * static_cast<size_t>(n));
  return out;
}

Intervention patch_heads(int layer, std::vector<int> heads, const Trace& source, const std::string& hook) {
  check_layer(layer, "patch_heads");
  heads = checked_heads(std::move(heads), "patch_heads");
  const std::string target = "blocks." + std::to_string(layer) + "." + hook;
  const int axis = head_axis(target);  // refuses a suffix that is no query-head hook
  Tensor src = source.at(target);      // shares storage: the source trace may go away
  return {
      target,
      [heads, src, axis](Tensor& v, const HookContext& ctx) {
        const std::string where = "patch_heads at " + ctx.name;
        if (v.shape() != src.shape())
          fail(ErrorKind::InvalidArgument, where + ": source " + src.shape_str() + " and this run " + v.shape_str() +
                                               " differ (patching needs prompts of the same length)");
        HeadLayout L(v, axis, where);
        for (int h : heads) check_head(h, L.heads, where);
        float* p = writable(v);
        for (int64_t o = 0; o < L.outer; ++o)
          for (int h : heads)
            std::memcpy(p + L.offset(o, h), src.data() + L.offset(o, h), sizeof(float) * static_cast<size_t>(L.inner));
      },
      "patch heads " + heads_str(heads) + " from another trace @ " + target};
}

Intervention patch_hook(const std::string& target, const Trace& source) {
  auto canonical = canonical_hook_name(target);
  if (!canonical)
    fail(ErrorKind::InvalidArgument,
         "patch_hook: '" + target + "' is not a hook name" + did_you_mean(target, hook_names_near(target)));
  Edit e = replace_with(source.at(*canonical), Align::Exact);
  return {*canonical, e.fn, "patch from another trace @ " + *canonical};
}

namespace detail {

Intervention ablate_head_per_row(int layer, std::vector<int> head_of_row, Tensor means) {
  const std::string target = hook_name(HookPoint::AttnZ, layer);
  return {target,
          [head_of_row, means](Tensor& z, const HookContext& ctx) {
            const std::string where = "head ablation at " + ctx.name;
            HeadLayout L(z, 2, where);
            const int64_t B = z.dim(0), T = z.dim(1);
            if (B != static_cast<int64_t>(head_of_row.size()))
              fail(ErrorKind::InvalidArgument, where + ": " + std::to_string(B) + " batch rows for " +
                                                   std::to_string(head_of_row.size()) + " heads");
            float* p = writable(z);
            for (int64_t b = 0; b < B; ++b) {
              const int h = head_of_row[static_cast<size_t>(b)];
              if (h < 0) continue;
              check_head(h, L.heads, where);
              for (int64_t t = 0; t < T; ++t) {
                const int64_t o = b * T + t;
                if (means.empty())
                  std::fill_n(p + L.offset(o, h), L.inner, 0.0f);
                else
                  write_mean(p, means, L, z, o, h, where);
              }
            }
          },
          "per-row head ablation @ " + target};
}

}  // namespace detail

}  // namespace attnscope::iv
