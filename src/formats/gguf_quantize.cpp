// Rewriting a GGUF file with its weight matrices in another type, as llama.cpp's llama-quantize
// does, with the same per-tensor recipe for the mixed "_M" file types (see gguf.h).
#include <filesystem>
#include <string>

#include "attnscope/error.h"
#include "attnscope/gguf.h"

namespace attnscope {

namespace {

GgmlType plain_type(const std::string& ftype) {
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1,
                     GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_K, GgmlType::Q6_K})
    if (ggml_type_name(t) == ftype) return t;
  fail(ErrorKind::InvalidArgument,
       "unknown GGUF file type '" + ftype + "' (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q6_K, Q4_K_M)");
}

// "blk.7.ffn_down.weight" -> 7 (-1 outside the blocks).
int layer_of(const std::string& name) {
  if (name.rfind("blk.", 0) != 0) return -1;
  return std::stoi(name.substr(4, name.find('.', 4) - 4));
}

}  // namespace

GgmlType gguf_recipe_type(const std::string& ftype, const std::string& name, int n_layer, int64_t row_len) {
  const bool matrix = name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0 &&
                      name.find("norm") == std::string::npos && name != "rope_freqs.weight";
  if (!matrix) return GgmlType::F32;
  GgmlType want;
  if (ftype == "Q4_K_M") {
    // llama.cpp's Q4_K_M: Q6_K for the output matrix (token_embd when tied: we cannot tell here,
    // so both) and for attn_v / ffn_down in the first and last eighth of the layers and every
    // third layer between; Q4_K for everything else.
    const int l = layer_of(name);
    const bool more_bits = l >= 0 && (l < n_layer / 8 || l >= 7 * n_layer / 8 || (l - n_layer / 8) % 3 == 2);
    const bool v_or_down = name.find(".attn_v.") != std::string::npos || name.find(".ffn_down.") != std::string::npos;
    want = (l < 0 || (v_or_down && more_bits)) ? GgmlType::Q6_K : GgmlType::Q4_K;
  } else {
    want = plain_type(ftype);
  }
  // Rows that are not a whole number of blocks fall back as llama.cpp does: K-quants to the
  // 32-element types, those to F16.
  for (GgmlType t : {want, want == GgmlType::Q6_K ? GgmlType::Q8_0 : GgmlType::Q5_0, GgmlType::F16})
    if (row_len % ggml_block_elems(t) == 0) return t;
  return GgmlType::F32;
}

void quantize_gguf_file(const std::string& src, const std::string& dst, const std::string& ftype) {
  if (std::filesystem::exists(dst)) fail(ErrorKind::InvalidArgument, dst + " exists; not overwriting it");
  const GgufFile in = GgufFile::open(src);
  GgufWriter w;
  for (const std::string& key : in.metadata_keys())
    if (key != "general.alignment" && key != "general.file_type") w.set(key, in.get(key));
  const int n_layer = [&] {
    auto arch = in.get_string("general.architecture");
    auto n = arch ? in.get_int(*arch + ".block_count") : std::nullopt;
    return static_cast<int>(n.value_or(0));
  }();
  for (const GgufTensorInfo& t : in.tensors()) {
    const Shape shape = t.shape();
    const int64_t row = shape.empty() ? 1 : shape.back();
    const GgmlType type = shape.size() < 2 ? GgmlType::F32 : gguf_recipe_type(ftype, t.name, n_layer, row);
    // Decoded row block by row block from the mapping while writing (never whole in memory).
    const uint64_t row_bytes = ggml_row_bytes(t.type, row);
    const uint8_t* data = t.data;
    const GgmlType from = t.type;
    w.add_tensor_generated(t.name, shape, type, [=](float* out, int64_t first, int64_t n) {
      dequantize(from, data + static_cast<uint64_t>(first) * row_bytes, out, n * row);
    });
  }
  w.write(dst);
}

}  // namespace attnscope
