// The warning channel (see include/attnscope/warnings.h).
#include "attnscope/warnings.h"

#include <iostream>
#include <mutex>
#include <set>

namespace attnscope {

namespace {
std::mutex g_mutex;
WarningHandler g_handler;        // empty: the default
std::set<std::string> g_warned;  // keys the default handler has printed

void default_handler(const std::string& key, const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_warned.insert(key).second) return;  // once per key and process
  }
  std::cerr << "attnscope: warning: " << message << "\n";
}
}  // namespace

WarningHandler set_warning_handler(WarningHandler handler) {
  std::lock_guard<std::mutex> lock(g_mutex);
  std::swap(g_handler, handler);
  return handler;
}

void warn(const std::string& key, const std::string& message) {
  WarningHandler h;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    h = g_handler;
  }
  if (h)
    h(key, message);
  else
    default_handler(key, message);
}

}  // namespace attnscope
