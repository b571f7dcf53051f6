// Tokenizer's shared members and the path dispatcher.
#include "attnscope/tokenizer.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "attnscope/error.h"
#include "attnscope/gguf.h"
#include "tokenizer/loaders.h"
#include "tokenizer/utf8.h"

namespace attnscope {

std::string valid_utf8(std::string_view bytes) { return detail::utf8_replace_invalid(bytes); }

std::vector<std::string> Tokenizer::to_str_tokens(const std::vector<int32_t>& ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (int32_t id : ids) out.push_back(token_to_str(id));
  return out;
}

std::vector<std::vector<int32_t>> Tokenizer::encode_batch(const std::vector<std::string>& texts, bool add_bos,
                                                          bool parse_special) const {
  std::vector<std::vector<int32_t>> out;
  out.reserve(texts.size());
  for (const auto& t : texts) out.push_back(encode(t, add_bos, parse_special));
  return out;
}

namespace {

namespace fs = std::filesystem;

bool has_gguf_magic(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  return f.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

std::string sibling(const fs::path& p, const char* name) {
  const fs::path s = p.parent_path() / name;
  return fs::exists(s) ? s.string() : std::string();
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_path(const std::string& path) {
  std::error_code ec;
  const fs::path p(path);
  if (!fs::exists(p, ec)) fail(ErrorKind::NotFound, "tokenizer: no such file or directory: " + path);
  if (fs::is_directory(p, ec)) {
    if (fs::exists(p / "tokenizer.json")) {
      const fs::path cfg = p / "tokenizer_config.json";
      return detail::load_hf_tokenizer_json((p / "tokenizer.json").string(),
                                            fs::exists(cfg) ? cfg.string() : std::string());
    }
    if (fs::exists(p / "encoder.json") && fs::exists(p / "vocab.bpe")) {
      return detail::load_gpt2_files((p / "encoder.json").string(), (p / "vocab.bpe").string());
    }
    if (fs::exists(p / "vocab.json") && fs::exists(p / "merges.txt")) {
      return detail::load_gpt2_files((p / "vocab.json").string(), (p / "merges.txt").string());
    }
    if (fs::exists(p / "tokenizer.model")) {
      return detail::load_sentencepiece_model((p / "tokenizer.model").string());
    }
    fail(ErrorKind::NotFound, "tokenizer: " + path +
                                  " holds none of tokenizer.json, encoder.json + vocab.bpe, "
                                  "vocab.json + merges.txt, tokenizer.model");
  }
  if (has_gguf_magic(path)) return from_gguf(GgufFile::open(path));
  const std::string name = p.filename().string();
  if (name == "encoder.json" || name == "vocab.json") {
    const std::string bpe = sibling(p, name == "encoder.json" ? "vocab.bpe" : "merges.txt");
    if (bpe.empty()) {
      fail(ErrorKind::NotFound, "tokenizer: " + path + " needs " +
                                    (name == "encoder.json" ? "vocab.bpe" : "merges.txt") + " in the same directory");
    }
    return detail::load_gpt2_files(path, bpe);
  }
  if (p.extension() == ".json") {
    return detail::load_hf_tokenizer_json(path, sibling(p, "tokenizer_config.json"));
  }
  if (p.extension() == ".model") return detail::load_sentencepiece_model(path);
  fail(ErrorKind::Unsupported, "tokenizer: cannot tell what kind of tokenizer file " + path +
                                   " is (expected .gguf, tokenizer.json, encoder.json, "
                                   "tokenizer.model or a directory holding one)");
}

}  // namespace attnscope

namespace attnscope::detail {

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(ErrorKind::NotFound, "no such file: " + path);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(ErrorKind::Io, "cannot open " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace attnscope::detail
