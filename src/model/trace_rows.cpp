// Ragged-batch views of a Trace: the attention mask and one prompt with its pads cut away.
#include <cstring>

#include "attnscope/error.h"
#include "attnscope/trace.h"

namespace attnscope {

namespace {

// Batch row b of t with positions [start, start + len) kept along each axis in `axes`.
Tensor cut(const Tensor& t, int64_t b, const std::vector<int>& axes, int64_t start, int64_t len) {
  Shape in = t.shape();
  Shape out = in;
  out[0] = 1;
  for (int a : axes) out[static_cast<size_t>(a)] = len;
  Tensor r(out);
  const size_t nd = in.size();
  std::vector<int64_t> in_stride(nd, 1);
  for (size_t d = nd - 1; d-- > 0;) in_stride[d] = in_stride[d + 1] * in[d + 1];
  // Walk the output index space in row-major order; the last dimension is copied as a run.
  std::vector<int64_t> idx(nd, 0);
  const int64_t run = out[nd - 1];
  const bool last_cut = !axes.empty() && axes.back() == static_cast<int>(nd - 1);
  float* dst = r.data();
  const int64_t rows = r.numel() / run;
  for (int64_t row = 0; row < rows; ++row) {
    int64_t off = b * in_stride[0];
    for (size_t d = 1; d + 1 < nd; ++d) {
      bool is_cut = false;
      for (int a : axes) is_cut |= a == static_cast<int>(d);
      off += (idx[d] + (is_cut ? start : 0)) * in_stride[d];
    }
    off += last_cut ? start : 0;
    std::memcpy(dst + row * run, t.data() + off, sizeof(float) * static_cast<size_t>(run));
    for (size_t d = nd - 1; d-- > 1;) {  // next index over dims 1 .. nd-2
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
  return r;
}

}  // namespace

Padding padding_from_name(const std::string& name) {
  if (name == "right") return Padding::Right;
  if (name == "left") return Padding::Left;
  fail(ErrorKind::InvalidArgument, "padding side must be 'right' or 'left', got '" + name + "'");
}

int64_t Trace::padded_length() const {
  size_t t = 0;
  for (const auto& row : tokens) t = std::max(t, row.size());
  return static_cast<int64_t>(t);
}

bool Trace::padded() const {
  for (const auto& row : tokens)
    if (static_cast<int64_t>(row.size()) != padded_length()) return true;
  return false;
}

std::vector<std::vector<int32_t>> Trace::attention_mask() const {
  const int64_t T = padded_length();
  std::vector<std::vector<int32_t>> mask;
  for (const auto& row : tokens) {
    const int64_t n = static_cast<int64_t>(row.size()), first = padding == Padding::Left ? T - n : 0;
    std::vector<int32_t> m(static_cast<size_t>(T), 0);
    for (int64_t t = first; t < first + n; ++t) m[static_cast<size_t>(t)] = 1;
    mask.push_back(std::move(m));
  }
  return mask;
}

Trace Trace::row(int b) const {
  if (b < 0 || b >= static_cast<int>(tokens.size()))
    fail(ErrorKind::InvalidArgument,
         "Trace::row: row " + std::to_string(b) + " outside a batch of " + std::to_string(tokens.size()));
  const int64_t T = padded_length(), n = static_cast<int64_t>(tokens[static_cast<size_t>(b)].size());
  const int64_t start = padding == Padding::Left ? T - n : 0;
  Trace r;
  r.tokens = {tokens[static_cast<size_t>(b)]};
  if (static_cast<size_t>(b) < str_tokens.size()) r.str_tokens = {str_tokens[static_cast<size_t>(b)]};
  r.padding = padding;
  for (const auto& [name, value] : captured_) {
    if (value.ndim() < 2 || value.dim(0) != static_cast<int64_t>(tokens.size())) {
      r.captured_[name] = value;  // not per row and position (should not happen): keep as is
      continue;
    }
    const bool square =
        hook_shape_of(name) == HookShape::Square && value.ndim() == 4 && value.dim(2) == T && value.dim(3) == T;
    r.captured_[name] = square ? cut(value, b, {2, 3}, start, n) : cut(value, b, {1}, start, n);
  }
  if (!logits.empty()) {
    // Generation keeps only the last position's logits ([B, 1, V]); that one is real either way
    // with left padding, and is the row's last real token only without pads.
    r.logits = logits.dim(1) == T ? cut(logits, b, {1}, start, n) : cut(logits, b, {}, 0, 0);
  }
  return r;
}

}  // namespace attnscope
