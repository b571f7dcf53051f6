// Pattern encoding for the explorer (see explorer_data.h).
#include "viz/explorer_data.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>

#include "attnscope/error.h"

namespace attnscope::detail {

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// Above this many raw 16-bit bytes the automatic choice falls back to 8 bits.
constexpr int64_t kAuto16BitLimit = 8 << 20;
}  // namespace

std::string base64_encode(const std::string& in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v =
        (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) | static_cast<uint8_t>(in[i + 2]);
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out += kB64[v >> 18];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kB64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string base64_decode(const std::string& text) {
  int map[256];
  std::fill(std::begin(map), std::end(map), -1);
  for (int i = 0; i < 64; ++i) map[static_cast<uint8_t>(kB64[i])] = i;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    const int v = map[static_cast<uint8_t>(c)];
    if (v < 0) fail(ErrorKind::Format, "base64: invalid character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

EncodedPatterns encode_patterns(const std::map<int, Tensor>& patterns, int batch, int bits) {
  if (patterns.empty())
    fail(ErrorKind::InvalidArgument, "explorer: no attention patterns (was hook_pattern captured?)");
  if (bits != 0 && bits != 8 && bits != 16)
    fail(ErrorKind::InvalidArgument, "explorer: bits must be 8 or 16, got " + std::to_string(bits));
  EncodedPatterns e;
  const Tensor& first = patterns.begin()->second;
  for (const auto& [layer, t] : patterns) {
    if (t.ndim() != 4)
      fail(ErrorKind::InvalidArgument,
           "explorer: layer " + std::to_string(layer) + " pattern is " + t.shape_str() + ", expected [B, H, Q, K]");
    if (t.shape() != first.shape())
      fail(ErrorKind::InvalidArgument, "explorer: layer " + std::to_string(layer) + " pattern is " + t.shape_str() +
                                           " but layer " + std::to_string(patterns.begin()->first) + " is " +
                                           first.shape_str());
    if (batch < 0 || batch >= t.dim(0))
      fail(ErrorKind::InvalidArgument,
           "explorer: batch " + std::to_string(batch) + " out of range for " + t.shape_str());
    if (!t.data())
      fail(ErrorKind::InvalidArgument, "explorer: layer " + std::to_string(layer) + " pattern has no data");
    e.layers.push_back(layer);
  }
  e.heads = first.dim(1);
  e.queries = first.dim(2);
  e.keys = first.dim(3);
  if (e.heads <= 0 || e.queries <= 0 || e.keys <= 0 || e.queries > e.keys)
    fail(ErrorKind::InvalidArgument,
         "explorer: cannot show pattern shape " + first.shape_str() + " (need queries <= keys, none empty)");
  const int64_t off = e.keys - e.queries;
  const int64_t plane = e.queries * e.keys;
  // The triangle is enough when every weight above the causal diagonal is (numerically) zero.
  e.triangle = true;
  for (const auto& [layer, t] : patterns) {
    const float* base = t.data() + static_cast<int64_t>(batch) * e.heads * plane;
    for (int64_t h = 0; h < e.heads && e.triangle; ++h)
      for (int64_t q = 0; q < e.queries && e.triangle; ++q)
        for (int64_t k = q + off + 1; k < e.keys; ++k)
          if (!(std::fabs(base[h * plane + q * e.keys + k]) <= 1e-6f)) {
            e.triangle = false;
            break;
          }
  }
  const int64_t per_head = e.triangle ? e.queries * (e.queries + 1) / 2 + off * e.queries : plane;
  e.values = per_head * e.heads * static_cast<int64_t>(e.layers.size());
  e.bits = bits != 0 ? bits : (e.values * 2 <= kAuto16BitLimit ? 16 : 8);
  // The top code (65535 / 255) marks a non-finite weight; finite ones use 0..top-1.
  const uint32_t non_finite = e.bits == 16 ? 65535u : 255u;
  const double scale = non_finite - 1.0;
  // 16-bit values are stored as two planes, all high bytes then all low bytes: the high bytes
  // are mostly zero or repeat and compress far better apart from the noisy low bytes.
  std::string raw(static_cast<size_t>(e.values * (e.bits / 8)), '\0');
  size_t at = 0;
  for (const auto& [layer, t] : patterns) {
    const float* base = t.data() + static_cast<int64_t>(batch) * e.heads * plane;
    for (int64_t h = 0; h < e.heads; ++h)
      for (int64_t q = 0; q < e.queries; ++q) {
        const int64_t n = e.triangle ? q + off + 1 : e.keys;
        const float* row = base + h * plane + q * e.keys;
        for (int64_t k = 0; k < n; ++k) {
          const float v = row[k];
          const auto u = std::isfinite(v)
                             ? static_cast<uint32_t>(std::lround(std::clamp(static_cast<double>(v), 0.0, 1.0) * scale))
                             : non_finite;
          if (e.bits == 16) {
            raw[at] = static_cast<char>(u >> 8);
            raw[at + static_cast<size_t>(e.values)] = static_cast<char>(u & 0xFF);
          } else {
            raw[at] = static_cast<char>(u);
          }
          ++at;
        }
      }
  }
  uLongf cap = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(cap, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &cap, reinterpret_cast<const Bytef*>(raw.data()),
                static_cast<uLong>(raw.size()), 6) != Z_OK)
    fail(ErrorKind::Io, "explorer: compressing " + std::to_string(raw.size()) + " bytes of weights failed");
  packed.resize(cap);
  e.base64 = base64_encode(packed);
  return e;
}

}  // namespace attnscope::detail
