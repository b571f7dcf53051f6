// The explorer's compact pattern encoding: weights clamped to [0, 1], quantised to 8 or 16 bits
// (codes 0..254 or 0..65534; the top code 255 / 65535 marks NaN or inf, shown as such, never as 0),
// only the causal (lower) triangle when the upper one is empty, zlib-compressed, base64.
// explorer.js decodes exactly this layout (see decodeData there).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "attnscope/tensor.h"

namespace attnscope::detail {

struct EncodedPatterns {
  std::vector<int> layers;  // real layer numbers, ascending
  int64_t heads = 0, queries = 0, keys = 0;
  bool triangle = false;  // only keys <= query + (keys - queries) are stored
  int bits = 8;
  int64_t values = 0;  // stored values (all layers and heads)
  std::string base64;  // zlib stream of the values (see layout), base64
};

// Layout: for each layer (ascending), head, query row: that row's stored keys in order. 16-bit
// values are split into planes: the high bytes of all values, then the low bytes.
// bits: 8, 16 or 0 (automatic). InvalidArgument for inconsistent shapes or a bad batch.
EncodedPatterns encode_patterns(const std::map<int, Tensor>& patterns, int batch, int bits);

std::string base64_encode(const std::string& bytes);
std::string base64_decode(const std::string& text);  // for tests; Format on bad input

}  // namespace attnscope::detail
