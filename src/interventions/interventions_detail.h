// Private helpers shared by the intervention sources.
#pragma once
#include <cstdint>
#include <string>

#include "attnscope/tensor.h"

namespace attnscope::iv::detail {

// The value's data, cloned first if the value is a read-only view.
float* writable(Tensor& value);
std::string fmt(float x);
uint64_t fnv1a(const std::string& s);
uint64_t splitmix64(uint64_t& state);

}  // namespace attnscope::iv::detail

#include <vector>

#include "attnscope/trace.h"

namespace attnscope::iv::detail {

// For the sweep: batch row b ablates head head_of_row[b] of `layer` on hook_z (-1: none), with
// zeros (means empty) or the per-head means [H, Dh].
Intervention ablate_head_per_row(int layer, std::vector<int> head_of_row, Tensor means);

}  // namespace attnscope::iv::detail
