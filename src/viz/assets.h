// The explorer's browser files (src/viz/assets/*), embedded at build time by
// cmake/embed_assets.cmake: file name -> contents.
#pragma once
#include <map>
#include <string>
#include <string_view>

namespace attnscope::detail {

const std::map<std::string, std::string_view>& embedded_assets();

}  // namespace attnscope::detail
