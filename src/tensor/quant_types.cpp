// ggml type table and the dequantize / quantize entry points.
#include <cstring>
#include <limits>

#include "attnscope/error.h"
#include "attnscope/ggml_types.h"
#include "tensor/parallel.h"
#include "tensor/quant_impl.h"

namespace attnscope {

namespace {
struct TypeInfo {
  const char* name;
  int64_t block_elems;
  int64_t block_bytes;
};

// nullptr name: an id this project does not read.
TypeInfo type_info(GgmlType type) {
  using namespace detail;
  switch (type) {
    case GgmlType::F32:
      return {"F32", 1, 4};
    case GgmlType::F16:
      return {"F16", 1, 2};
    case GgmlType::BF16:
      return {"BF16", 1, 2};
    case GgmlType::Q4_0:
      return {"Q4_0", kQK, kQ4_0Bytes};
    case GgmlType::Q4_1:
      return {"Q4_1", kQK, kQ4_1Bytes};
    case GgmlType::Q5_0:
      return {"Q5_0", kQK, kQ5_0Bytes};
    case GgmlType::Q5_1:
      return {"Q5_1", kQK, kQ5_1Bytes};
    case GgmlType::Q8_0:
      return {"Q8_0", kQK, kQ8_0Bytes};
    case GgmlType::Q8_1:
      return {"Q8_1", kQK, kQ8_1Bytes};
    case GgmlType::Q2_K:
      return {"Q2_K", kQKK, kQ2_KBytes};
    case GgmlType::Q3_K:
      return {"Q3_K", kQKK, kQ3_KBytes};
    case GgmlType::Q4_K:
      return {"Q4_K", kQKK, kQ4_KBytes};
    case GgmlType::Q5_K:
      return {"Q5_K", kQKK, kQ5_KBytes};
    case GgmlType::Q6_K:
      return {"Q6_K", kQKK, kQ6_KBytes};
    case GgmlType::Q8_K:
      return {"Q8_K", kQKK, kQ8_KBytes};
  }
  return {nullptr, 0, 0};
}

// All 65536 fp16 values as float: a table lookup decodes F16 tensors several times faster than
// the bit-by-bit conversion (built once, thread-safe static initialisation).
const float* fp16_table() {
  static const std::vector<float> table = [] {
    std::vector<float> t(65536);
    for (uint32_t h = 0; h < 65536; ++h) t[h] = detail::fp16_to_f32(static_cast<uint16_t>(h));
    return t;
  }();
  return table.data();
}

TypeInfo checked_info(GgmlType type) {
  TypeInfo t = type_info(type);
  if (t.name == nullptr)
    fail(ErrorKind::Unsupported, "unsupported ggml tensor type id " + std::to_string(static_cast<uint32_t>(type)));
  return t;
}

void check_multiple(GgmlType type, int64_t n, const char* what) {
  TypeInfo t = checked_info(type);
  if (n < 0 || n % t.block_elems != 0)
    fail(ErrorKind::InvalidArgument, std::string(what) + ": " + std::to_string(n) + " elements of " + t.name +
                                         " is not a multiple of its block size " + std::to_string(t.block_elems));
}
}  // namespace

std::string ggml_type_name(GgmlType type) {
  TypeInfo t = type_info(type);
  return t.name ? t.name : "type" + std::to_string(static_cast<uint32_t>(type));
}

int64_t ggml_block_elems(GgmlType type) { return checked_info(type).block_elems; }
int64_t ggml_block_bytes(GgmlType type) { return checked_info(type).block_bytes; }

uint64_t ggml_row_bytes(GgmlType type, int64_t n) {
  check_multiple(type, n, "ggml_row_bytes");
  TypeInfo t = checked_info(type);
  const uint64_t blocks = static_cast<uint64_t>(n / t.block_elems);
  if (blocks > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(t.block_bytes))
    fail(ErrorKind::InvalidArgument, "ggml_row_bytes: size overflows");
  return blocks * static_cast<uint64_t>(t.block_bytes);
}

void dequantize(GgmlType type, const void* src_v, float* dst, int64_t n) {
  using namespace detail;
  check_multiple(type, n, "dequantize");
  const auto* src = static_cast<const uint8_t*>(src_v);
  const int64_t nb = n / ggml_block_elems(type);
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::F16: {
      const float* table = fp16_table();
      for (int64_t i = 0; i < n; ++i) dst[i] = table[load_u16(src + 2 * i)];
      return;
    }
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(src + 2 * i));
      return;
    case GgmlType::Q4_0:
      dequant_q4_0(src, dst, nb);
      return;
    case GgmlType::Q4_1:
      dequant_q4_1(src, dst, nb);
      return;
    case GgmlType::Q5_0:
      dequant_q5_0(src, dst, nb);
      return;
    case GgmlType::Q5_1:
      dequant_q5_1(src, dst, nb);
      return;
    case GgmlType::Q8_0:
      dequant_q8_0(src, dst, nb);
      return;
    case GgmlType::Q8_1:
      dequant_q8_1(src, dst, nb);
      return;
    case GgmlType::Q2_K:
      dequant_q2_k(src, dst, nb);
      return;
    case GgmlType::Q3_K:
      dequant_q3_k(src, dst, nb);
      return;
    case GgmlType::Q4_K:
      dequant_q4_k(src, dst, nb);
      return;
    case GgmlType::Q5_K:
      dequant_q5_k(src, dst, nb);
      return;
    case GgmlType::Q6_K:
      dequant_q6_k(src, dst, nb);
      return;
    case GgmlType::Q8_K:
      dequant_q8_k(src, dst, nb);
      return;
  }
}

std::vector<uint8_t> quantize(GgmlType type, const float* src, int64_t n) {
  using namespace detail;
  check_multiple(type, n, "quantize");
  std::vector<uint8_t> out(ggml_row_bytes(type, n));
  using BlockEncoder = void (*)(const float*, uint8_t*, int64_t);
  BlockEncoder enc = nullptr;
  switch (type) {
    case GgmlType::F32:
      std::memcpy(out.data(), src, static_cast<size_t>(n) * 4);
      return out;
    case GgmlType::F16:
      for (int64_t i = 0; i < n; ++i) store_f16(out.data() + 2 * i, src[i]);
      return out;
    case GgmlType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t b = f32_to_bf16(src[i]);
        std::memcpy(out.data() + 2 * i, &b, 2);
      }
      return out;
    case GgmlType::Q4_0:
      enc = &quant_q4_0;
      break;
    case GgmlType::Q4_1:
      enc = &quant_q4_1;
      break;
    case GgmlType::Q5_0:
      enc = &quant_q5_0;
      break;
    case GgmlType::Q5_1:
      enc = &quant_q5_1;
      break;
    case GgmlType::Q8_0:
      enc = &quant_q8_0;
      break;
    case GgmlType::Q4_K:
      enc = &quant_q4_k;
      break;
    case GgmlType::Q6_K:
      enc = &quant_q6_k;
      break;
    default:
      fail(ErrorKind::Unsupported, "quantize: writing " + ggml_type_name(type) + " is not supported");
  }
  // Blocks are independent: encode them on every thread (the K-quant scale search is the slow
  // part of writing a quantised model).
  const int64_t be = ggml_block_elems(type), bb = ggml_block_bytes(type);
  ops::parallel_for(n / be, 64, [&](int64_t b0, int64_t b1) { enc(src + b0 * be, out.data() + b0 * bb, b1 - b0); });
  return out;
}

}  // namespace attnscope
