// Tensor edits usable at any hook point: zero_out, scale, add_vector, clamp, noise, replace_with,
// compose, custom.
#include "attnscope/interventions.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <sstream>

#include "attnscope/error.h"
#include "interventions/interventions_detail.h"

namespace attnscope::iv {

namespace detail {

float* writable(Tensor& value) {
  // A hook may hand over a read-only view (e.g. a weight-backed tensor); edit a private copy.
  if (value.is_view()) value = value.clone();
  return value.data();
}

std::string fmt(float x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace detail

using detail::fmt;
using detail::writable;

Edit zero_out() {
  return {[](Tensor& v, const HookContext&) {
            float* p = writable(v);
            std::fill(p, p + v.numel(), 0.0f);
          },
          "zero_out"};
}

Edit scale(float factor) {
  return {[factor](Tensor& v, const HookContext&) {
            float* p = writable(v);
            for (int64_t i = 0, n = v.numel(); i < n; ++i) p[i] *= factor;
          },
          "scale(" + fmt(factor) + ")"};
}

Edit add_vector(Tensor vec, float coeff) {
  if (vec.empty()) fail(ErrorKind::InvalidArgument, "add_vector: the vector is empty");
  std::string desc = "add_vector(" + vec.shape_str() + (coeff != 1.0f ? ", " + fmt(coeff) : "") + ")";
  return {[vec, coeff](Tensor& v, const HookContext& ctx) {
            // vec's shape must be a suffix of the value's shape; it repeats over the leading dims.
            const Shape& vs = v.shape();
            const Shape& ws = vec.shape();
            bool ok = ws.size() <= vs.size() &&
                      std::equal(ws.begin(), ws.end(), vs.end() - static_cast<std::ptrdiff_t>(ws.size()));
            if (!ok)
              fail(ErrorKind::InvalidArgument, "add_vector at " + ctx.name + ": vector of shape " + vec.shape_str() +
                                                   " does not match the trailing dimensions of " + v.shape_str());
            float* p = writable(v);
            const float* w = vec.data();
            const int64_t m = vec.numel(), n = v.numel();
            for (int64_t i = 0; i < n; i += m)
              for (int64_t j = 0; j < m; ++j) p[i + j] += coeff * w[j];
          },
          desc};
}

Edit clamp(float lo, float hi) {
  if (!(lo <= hi))
    fail(ErrorKind::InvalidArgument, "clamp: lower bound " + fmt(lo) + " is not <= upper bound " + fmt(hi));
  return {[lo, hi](Tensor& v, const HookContext&) {
            float* p = writable(v);
            for (int64_t i = 0, n = v.numel(); i < n; ++i) p[i] = std::clamp(p[i], lo, hi);
          },
          "clamp(" + fmt(lo) + ", " + fmt(hi) + ")"};
}

Edit noise(float stddev, uint64_t seed) {
  if (!(stddev >= 0) || !std::isfinite(stddev))
    fail(ErrorKind::InvalidArgument, "noise: standard deviation must be finite and >= 0, got " + fmt(stddev));
  return {[stddev, seed](Tensor& v, const HookContext& ctx) {
            // Own generator (splitmix64 + Box-Muller) so the noise is the same on every platform.
            uint64_t state = seed ^ detail::fnv1a(ctx.name);
            float* p = writable(v);
            const int64_t n = v.numel();
            for (int64_t i = 0; i < n; i += 2) {
              double u1 = (static_cast<double>(detail::splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
              double u2 = static_cast<double>(detail::splitmix64(state) >> 11) * 0x1.0p-53;
              double r = std::sqrt(-2.0 * std::log(u1));
              p[i] += static_cast<float>(stddev * r * std::cos(2.0 * std::numbers::pi * u2));
              if (i + 1 < n) p[i + 1] += static_cast<float>(stddev * r * std::sin(2.0 * std::numbers::pi * u2));
            }
          },
          "noise(" + fmt(stddev) + ", seed=" + std::to_string(seed) + ")"};
}

namespace {

const char* align_name(Align a) {
  switch (a) {
    case Align::Exact:
      return "exact";
    case Align::Start:
      return "start";
    case Align::End:
      return "end";
  }
  return "?";
}

void replace_into(Tensor& v, const Tensor& r, Align align, const HookContext& ctx) {
  const Shape& vs = v.shape();
  Shape rs = r.shape();
  auto mismatch = [&](const std::string& why) {
    fail(ErrorKind::InvalidArgument, "replace_with at " + ctx.name + ": replacement " + r.shape_str() +
                                         " does not fit the value " + v.shape_str() + " (" + why + ")");
  };
  if (vs.empty()) mismatch("scalar hook");
  // Missing batch axis: treat as batch 1.
  if (rs.size() + 1 == vs.size()) rs.insert(rs.begin(), 1);
  if (rs.size() != vs.size()) mismatch("different number of dimensions");
  const int64_t B = vs[0], rb = rs[0];
  if (rb != B && rb != 1) mismatch("batch sizes differ");
  float* dst = writable(v);
  const float* src = r.data();
  if (align == Align::Exact || vs.size() < 2) {
    if (!std::equal(vs.begin() + 1, vs.end(), rs.begin() + 1)) mismatch("align=exact needs equal shapes");
    const int64_t row = shape_numel(Shape(vs.begin() + 1, vs.end()));
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(dst + b * row, src + (rb == 1 ? 0 : b) * row, sizeof(float) * static_cast<size_t>(row));
    return;
  }
  if (hook_shape_of(ctx.name) == HookShape::Square)
    mismatch("align=" + std::string(align_name(align)) + " is not defined for [B, H, T, T] hooks");
  if (!std::equal(vs.begin() + 2, vs.end(), rs.begin() + 2)) mismatch("per-position shapes differ");
  const int64_t T = vs[1], rT = rs[1];
  const int64_t inner = shape_numel(Shape(vs.begin() + 2, vs.end()));
  const int64_t n = std::min(T, rT);
  const int64_t v0 = align == Align::Start ? 0 : T - n;
  const int64_t r0 = align == Align::Start ? 0 : rT - n;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t sb = rb == 1 ? 0 : b;
    std::memcpy(dst + (b * T + v0) * inner, src + (sb * rT + r0) * inner,
                sizeof(float) * static_cast<size_t>(n * inner));
  }
}

}  // namespace

Edit replace_with(Tensor replacement, Align align) {
  if (replacement.empty()) fail(ErrorKind::InvalidArgument, "replace_with: the replacement is empty");
  std::string desc = "replace_with(" + replacement.shape_str() + ", align=" + align_name(align) + ")";
  return {[replacement, align](Tensor& v, const HookContext& ctx) { replace_into(v, replacement, align, ctx); }, desc};
}

Edit compose(std::vector<Edit> edits) {
  std::string desc = "compose(";
  for (size_t i = 0; i < edits.size(); ++i) {
    if (!edits[i].fn) fail(ErrorKind::InvalidArgument, "compose: edit " + std::to_string(i) + " is empty");
    desc += (i ? ", " : "") + edits[i].description;
  }
  desc += ")";
  std::vector<InterventionFn> fns;
  for (auto& e : edits) fns.push_back(std::move(e.fn));
  return {[fns](Tensor& v, const HookContext& ctx) {
            for (const auto& f : fns) f(v, ctx);
          },
          desc};
}

Edit custom(InterventionFn fn, std::string description) {
  if (!fn) fail(ErrorKind::InvalidArgument, "custom: the function is empty");
  return {std::move(fn), std::move(description)};
}

}  // namespace attnscope::iv
