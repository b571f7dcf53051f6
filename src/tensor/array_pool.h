// Recycled float arrays for owning tensors. A forward pass allocates the same activation sizes
// layer after layer and call after call; memory fresh from the OS costs one page fault per 4 KB
// (with the zero fill, a fifth of a traced 128-token prefill of a 1 B model). Freed arrays of
// at least kMinPooledBytes are kept, per element count, up to kMaxPooledBytes in all, and handed
// out again; everything else goes back to the allocator.
#pragma once
#include <cstddef>
#include <memory>

namespace attnscope::detail {

inline constexpr size_t kMinPooledBytes = size_t{64} << 10;
inline constexpr size_t kMaxPooledBytes = size_t{256} << 20;

// An array of n floats starting on a 64-byte cache line (so that threads splitting it at
// multiples of 16 floats share no line, see parallel_for), contents unspecified (a recycled one
// when the pool has that size).
// Thread-safe; the array returns to the pool when the last shared_ptr to it goes.
std::shared_ptr<float> pooled_array(size_t n);

// Bytes the pool holds now (for tests and benchmarks).
size_t pooled_bytes();

}  // namespace attnscope::detail
