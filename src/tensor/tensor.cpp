#include "attnscope/tensor.h"

#include <algorithm>
#include <cstring>
#include <sstream>

#include "attnscope/error.h"
#include "tensor/array_pool.h"

namespace attnscope {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorKind::InvalidArgument, "negative dimension in tensor shape");
    n *= d;
  }
  return n;
}

Tensor::Tensor(Shape shape) : Tensor(uninitialized(std::move(shape))) {
  std::fill(data_, data_ + shape_numel(shape_), 0.0f);
}

Tensor Tensor::uninitialized(Shape shape) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.storage_ = detail::pooled_array(static_cast<size_t>(shape_numel(t.shape_)));
  t.data_ = t.storage_.get();
  t.writable_ = true;
  return t;
}

Tensor::Tensor(Shape shape, std::vector<float> values) : shape_(std::move(shape)) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape_))
    fail(ErrorKind::InvalidArgument,
         "tensor of shape " + shape_str() + " given " + std::to_string(values.size()) + " values");
  auto owner = std::make_shared<std::vector<float>>(std::move(values));  // kept, not copied
  storage_ = std::shared_ptr<float>(owner, owner->data());
  data_ = storage_.get();
  writable_ = true;
}

Tensor Tensor::view(Shape shape, const float* data, std::shared_ptr<const void> keepalive) {
  Tensor t;
  t.shape_ = std::move(shape);
  t.keepalive_ = std::move(keepalive);
  t.data_ = const_cast<float*>(data);  // never written through: writable_ stays false
  return t;
}

int64_t Tensor::dim(int i) const {
  int n = ndim();
  if (i < 0) i += n;
  if (i < 0 || i >= n)
    fail(ErrorKind::InvalidArgument, "dimension " + std::to_string(i) + " of a " + std::to_string(n) + "-d tensor");
  return shape_[static_cast<size_t>(i)];
}

int64_t Tensor::numel() const { return shape_.empty() && data_ == nullptr ? 0 : shape_numel(shape_); }

float* Tensor::data() {
  if (!writable_ && data_ != nullptr)
    fail(ErrorKind::InvalidArgument, "tensor is a read-only view; clone() it to modify");
  return data_;
}

static int64_t flat_index(const Shape& shape, std::initializer_list<int64_t> index) {
  if (index.size() != shape.size())
    fail(ErrorKind::InvalidArgument,
         "index has " + std::to_string(index.size()) + " entries for a " + std::to_string(shape.size()) + "-d tensor");
  int64_t flat = 0;
  size_t d = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= shape[d]) fail(ErrorKind::InvalidArgument, "tensor index out of range");
    flat = flat * shape[d] + i;
    ++d;
  }
  return flat;
}

float Tensor::at(std::initializer_list<int64_t> index) const { return data_[flat_index(shape_, index)]; }
float& Tensor::at(std::initializer_list<int64_t> index) { return data()[flat_index(shape_, index)]; }

Tensor Tensor::clone() const {
  Tensor t = uninitialized(shape_);
  if (numel() > 0) std::memcpy(t.data_, data_, sizeof(float) * static_cast<size_t>(numel()));
  return t;
}

Tensor Tensor::reshape(Shape new_shape) const {
  if (shape_numel(new_shape) != numel())
    fail(ErrorKind::InvalidArgument, "cannot reshape " + shape_str() + " to a different size");
  Tensor t = *this;
  t.shape_ = std::move(new_shape);
  return t;
}

Tensor Tensor::slice0(int64_t i) const {
  if (ndim() == 0 || i < 0 || i >= shape_[0]) fail(ErrorKind::InvalidArgument, "slice index out of range");
  Tensor t = *this;
  t.shape_.erase(t.shape_.begin());
  t.data_ = data_ + i * shape_numel(t.shape_);
  return t;
}

std::string Tensor::shape_str() const {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape_.size(); ++i) s << (i ? ", " : "") << shape_[i];
  s << ']';
  return s.str();
}

}  // namespace attnscope
