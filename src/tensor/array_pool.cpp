#include "tensor/array_pool.h"

#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace attnscope::detail {
namespace {

constexpr std::align_val_t kLine{64};

float* allocate(size_t n) { return static_cast<float*>(::operator new[](n * sizeof(float), kLine)); }
void release(float* p) { ::operator delete[](p, kLine); }

class ArrayPool {
 public:
  float* take(size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(n);
    if (it == free_.end() || it->second.empty()) return nullptr;
    float* p = it->second.back();
    it->second.pop_back();
    bytes_ -= n * sizeof(float);
    return p;
  }
  void give(float* p, size_t n) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (bytes_ + n * sizeof(float) <= kMaxPooledBytes) {
        free_[n].push_back(p);
        bytes_ += n * sizeof(float);
        return;
      }
    }
    release(p);
  }
  size_t bytes() {
    std::lock_guard<std::mutex> lock(mutex_);
    return bytes_;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<size_t, std::vector<float*>> free_;
  size_t bytes_ = 0;
};

// Never destroyed: tensors held in static objects may be released after main returns.
ArrayPool& pool() {
  static ArrayPool* p = new ArrayPool;
  return *p;
}

}  // namespace

std::shared_ptr<float> pooled_array(size_t n) {
  if (n * sizeof(float) < kMinPooledBytes) return std::shared_ptr<float>(allocate(n), release);
  float* p = pool().take(n);
  if (!p) p = allocate(n);
  return std::shared_ptr<float>(p, [n](float* q) { pool().give(q, n); });
}

size_t pooled_bytes() { return pool().bytes(); }

}  // namespace attnscope::detail
