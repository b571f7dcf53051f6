// The per-row patch edit: batch row b of a patched pass overwrites its own slice of one hook's
// value, so the runs of one layer share a single forward pass.
#include <algorithm>
#include <cstring>

#include "analysis/patching_detail.h"
#include "attnscope/error.h"
#include "attnscope/hook_points.h"

namespace attnscope::patching::detail {

namespace {

// Axis selectors for value axes 1..3 of a value of this shape class (see hook_points.h).
std::vector<int> selectors(HookShape shape, const Slice& s) {
  switch (shape) {
    case HookShape::Stream:
    case HookShape::Mlp:
    case HookShape::Logits:
      return {s.pos, -1};
    case HookShape::QueryHeads:
    case HookShape::KvHeads:
    case HookShape::HeadResult:
      return {s.pos, s.head, -1};
    case HookShape::Square:
      return {s.head, s.pos, s.src};
  }
  return {};
}

}  // namespace

Intervention patch_rows(const std::string& hook, Tensor source, std::vector<Slice> rows) {
  const auto shape = hook_shape_of(hook);
  if (!shape) fail(ErrorKind::InvalidArgument, "patching: '" + hook + "' is no canonical hook name");
  Intervention out;
  out.target = hook;
  out.description = "patch_rows(" + hook + ")";
  out.fn = [shape = *shape, source = std::move(source), rows = std::move(rows), hook](Tensor& value,
                                                                                      const HookContext&) {
    const int nd = value.ndim();
    if (source.ndim() != nd || (source.dim(0) != 1 && source.dim(0) != value.dim(0)))
      fail(ErrorKind::InvalidArgument, "patching " + hook + ": the clean value " + source.shape_str() +
                                           " does not line up with the patched run's " + value.shape_str());
    for (int i = 1; i < nd; ++i)
      if (source.dim(i) != value.dim(i))
        fail(ErrorKind::InvalidArgument, "patching " + hook + ": the clean value " + source.shape_str() +
                                             " does not line up with the patched run's " + value.shape_str());
    // Pad to [B, d1, d2, d3] so one loop serves every shape class.
    int64_t d[4] = {value.dim(0), 1, 1, 1};
    for (int i = 1; i < nd; ++i) d[i + 4 - nd] = value.dim(i);
    const int64_t row = d[1] * d[2] * d[3];
    float* dst = value.data();
    const int64_t B = std::min<int64_t>(value.dim(0), static_cast<int64_t>(rows.size()));
    for (int64_t b = 0; b < B; ++b) {
      std::vector<int> sel = selectors(shape, rows[static_cast<size_t>(b)]);
      while (sel.size() < 3) sel.insert(sel.begin(), -1);
      for (int a = 0; a < 3; ++a)
        if (sel[static_cast<size_t>(a)] >= d[a + 1])
          fail(ErrorKind::InvalidArgument, "patching " + hook + ": index " +
                                               std::to_string(sel[static_cast<size_t>(a)]) + " outside " +
                                               value.shape_str());
      const float* src = source.data() + (source.dim(0) == 1 ? 0 : b * row);
      float* out = dst + b * row;
      const int64_t i0 = sel[0] < 0 ? 0 : sel[0], i0e = sel[0] < 0 ? d[1] : sel[0] + 1;
      const int64_t j0 = sel[1] < 0 ? 0 : sel[1], j0e = sel[1] < 0 ? d[2] : sel[1] + 1;
      const int64_t k0 = sel[2] < 0 ? 0 : sel[2], n = sel[2] < 0 ? d[3] : 1;
      for (int64_t i = i0; i < i0e; ++i)
        for (int64_t j = j0; j < j0e; ++j) {
          const int64_t off = (i * d[2] + j) * d[3] + k0;
          std::memcpy(out + off, src + off, sizeof(float) * static_cast<size_t>(n));
        }
    }
  };
  return out;
}

}  // namespace attnscope::patching::detail
