// GgufValue: typed accessors, constructors and a short display form for `attnscope info`.
#include <cmath>
#include <limits>
#include <sstream>

#include "attnscope/error.h"
#include "attnscope/gguf.h"

namespace attnscope {

std::string gguf_value_type_name(GgufValueType type) {
  switch (type) {
    case GgufValueType::U8:
      return "u8";
    case GgufValueType::I8:
      return "i8";
    case GgufValueType::U16:
      return "u16";
    case GgufValueType::I16:
      return "i16";
    case GgufValueType::U32:
      return "u32";
    case GgufValueType::I32:
      return "i32";
    case GgufValueType::F32:
      return "f32";
    case GgufValueType::BOOL:
      return "bool";
    case GgufValueType::STRING:
      return "string";
    case GgufValueType::ARRAY:
      return "array";
    case GgufValueType::U64:
      return "u64";
    case GgufValueType::I64:
      return "i64";
    case GgufValueType::F64:
      return "f64";
  }
  return "type" + std::to_string(static_cast<uint32_t>(type));
}

namespace {
[[noreturn]] void wrong_type(const GgufValue& v, const char* wanted) {
  fail(ErrorKind::Format, std::string("metadata value is ") + gguf_value_type_name(v.type) + ", expected " + wanted);
}
}  // namespace

int64_t GgufValue::as_int() const {
  if (const auto* u = std::get_if<uint64_t>(&value)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(ErrorKind::Format, "metadata value " + std::to_string(*u) + " does not fit in int64");
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  wrong_type(*this, "an integer");
}

double GgufValue::as_float() const {
  if (const auto* d = std::get_if<double>(&value)) return *d;
  if (const auto* u = std::get_if<uint64_t>(&value)) return static_cast<double>(*u);
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  wrong_type(*this, "a number");
}

bool GgufValue::as_bool() const {
  if (const auto* b = std::get_if<bool>(&value)) return *b;
  wrong_type(*this, "a bool");
}

const std::string& GgufValue::as_string() const {
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  wrong_type(*this, "a string");
}

const GgufArray& GgufValue::as_array() const {
  if (const auto* a = std::get_if<std::shared_ptr<GgufArray>>(&value)) {
    if (*a) return **a;
    static const GgufArray empty;
    return empty;
  }
  wrong_type(*this, "an array");
}

std::string GgufValue::to_display(size_t max_items) const {
  std::ostringstream os;
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          os << (v ? "true" : "false");
        } else if constexpr (std::is_same_v<T, std::string>) {
          // Quoted, with control characters escaped so one value stays on one line.
          os << '"';
          for (char c : v) {
            if (c == '\n')
              os << "\\n";
            else if (c == '"')
              os << "\\\"";
            else if (static_cast<unsigned char>(c) < 0x20)
              os << "\\x" << std::hex << int(c) << std::dec;
            else
              os << c;
          }
          os << '"';
        } else if constexpr (std::is_same_v<T, std::shared_ptr<GgufArray>>) {
          const GgufArray& a = as_array();
          os << "[";
          for (size_t i = 0; i < a.size() && i < max_items; ++i) os << (i ? ", " : "") << a[i].to_display(max_items);
          if (a.size() > max_items) os << ", ... (" << a.size() << " " << gguf_value_type_name(array_type) << ")";
          os << "]";
        } else if constexpr (std::is_same_v<T, double>) {
          os.precision(type == GgufValueType::F32 ? 9 : 17);
          os << v;
        } else {
          os << v;
        }
      },
      value);
  return os.str();
}

GgufValue GgufValue::of_uint(GgufValueType type, uint64_t v) {
  GgufValue g;
  g.type = type;
  g.value = v;
  return g;
}
GgufValue GgufValue::of_int(GgufValueType type, int64_t v) {
  GgufValue g;
  g.type = type;
  g.value = v;
  return g;
}
GgufValue GgufValue::of_float(GgufValueType type, double v) {
  GgufValue g;
  g.type = type;
  g.value = v;
  return g;
}
GgufValue GgufValue::of_bool(bool v) {
  GgufValue g;
  g.type = GgufValueType::BOOL;
  g.value = v;
  return g;
}
GgufValue GgufValue::of_string(std::string v) {
  GgufValue g;
  g.type = GgufValueType::STRING;
  g.value = std::move(v);
  return g;
}
GgufValue GgufValue::of_array(GgufValueType element_type, GgufArray items) {
  GgufValue g;
  g.type = GgufValueType::ARRAY;
  g.array_type = element_type;
  g.value = std::make_shared<GgufArray>(std::move(items));
  return g;
}

}  // namespace attnscope
