// Scratch files and the target table (see harness.h).
#include "harness.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace attnscope::fuzz {
namespace fs = std::filesystem;

std::pair<std::string_view, std::string_view> split_input(std::string_view data) {
  const size_t at = data.find(kSplit);
  if (at == std::string_view::npos) return {data, {}};
  return {data.substr(0, at), data.substr(at + kSplit.size())};
}

namespace {
const fs::path& scratch_dir() {
  static const fs::path dir = [] {
    fs::path d = fs::temp_directory_path() / ("attnscope-fuzz-" + std::to_string(::getpid()));
    fs::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}
}  // namespace

std::string scratch_file(const std::string& name, std::string_view bytes) {
  const fs::path p = scratch_dir() / name;
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return p.string();
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {
      {"gguf_model", gguf_model},
      {"safetensors", safetensors},
      {"hf_config", hf_config},
      {"tokenizer_json", tokenizer_json},
      {"sentencepiece_model", sentencepiece_model},
      {"bpe_files", bpe_files},
      {"patterns_json", patterns_json},
      {"tokenizer_encode", tokenizer_encode},
  };
  return all;
}

}  // namespace attnscope::fuzz
