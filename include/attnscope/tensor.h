// Tensor: a contiguous, row-major float32 array with a shape. Either owns its memory or views
// memory kept alive by someone else (e.g. an mmap'd model file).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace attnscope {

using Shape = std::vector<int64_t>;

// How the bytes of a model file are held while tensors view them.
//   Mapped: the file's pages are mapped read-only. Opens at once, shares the page cache with other
//           processes, and runs models larger than memory; but on some virtual machines two
//           threads reading file-backed pages get less than one thread does (measured:
//           bench/README.md, "Threads").
//   Memory: the bytes are read into this process's own memory (read-only once read, on 2 MiB
//           transparent huge pages where the kernel grants them): ~0.3 s a GB to open from the
//           page cache, then every thread reads at full memory bandwidth.
enum class FileBacking { Mapped, Memory };

class Tensor {
 public:
  Tensor() = default;
  // Owning, zero-filled.
  explicit Tensor(Shape shape);
  // Owning, contents unspecified (possibly a recycled array, see src/tensor/array_pool.h): for
  // results that are then written in full, such as a forward pass's activations, where the zero
  // fill and the page faults of fresh memory are a measurable share of the time.
  static Tensor uninitialized(Shape shape);
  // Owning, filled from values (values.size() must equal the product of shape).
  Tensor(Shape shape, std::vector<float> values);
  // Non-owning view; `keepalive` holds the memory alive for as long as any copy of the view lives.
  static Tensor view(Shape shape, const float* data, std::shared_ptr<const void> keepalive);

  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t numel() const;
  bool empty() const { return numel() == 0; }
  bool is_view() const { return storage_ == nullptr && data_ != nullptr; }

  float* data();  // throws if this is a read-only view
  const float* data() const { return data_; }
  // Element access by full index (bounds-checked).
  float at(std::initializer_list<int64_t> index) const;
  float& at(std::initializer_list<int64_t> index);

  Tensor clone() const;                   // deep, owning copy
  Tensor reshape(Shape new_shape) const;  // same data, new shape (shares storage)
  // The sub-tensor at index i of the first dimension (shares storage).
  Tensor slice0(int64_t i) const;
  std::string shape_str() const;  // "[1, 8, 6, 6]"

 private:
  Shape shape_;
  std::shared_ptr<float> storage_;         // owning case (an array; deleted as one)
  std::shared_ptr<const void> keepalive_;  // view case
  float* data_ = nullptr;
  bool writable_ = false;
};

int64_t shape_numel(const Shape& shape);

}  // namespace attnscope
