// A checkpoint directory's safetensors weights: one file, or shards named by an index.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "attnscope/error.h"
#include "formats/safetensors.h"

namespace attnscope {
namespace fs = std::filesystem;
using json = nlohmann::json;

SafetensorsCheckpoint SafetensorsCheckpoint::open_dir(const std::string& dir, FileBacking backing) {
  SafetensorsCheckpoint ck;
  ck.dir_ = dir;
  const fs::path d(dir);
  const fs::path index_path = d / "model.safetensors.index.json";
  std::vector<std::string> shard_names;
  std::map<std::string, std::string> weight_map;
  if (fs::exists(index_path)) {
    std::ifstream in(index_path);
    json idx;
    try {
      idx = json::parse(in);
    } catch (const json::exception& e) {
      fail(ErrorKind::Format, index_path.string() + " is not valid JSON (" + e.what() + ")");
    }
    if (!idx.is_object() || !idx.contains("weight_map") || !idx["weight_map"].is_object())
      fail(ErrorKind::Format, index_path.string() + " has no 'weight_map' object");
    std::set<std::string> seen;
    for (auto it = idx["weight_map"].begin(); it != idx["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        fail(ErrorKind::Format, index_path.string() + ": weight_map entry '" + it.key() + "' is not a file name");
      std::string shard = it.value().get<std::string>();
      // A shard is a plain file name in this directory; never follow a path out of it.
      if (shard.empty() || shard.find('/') != std::string::npos || shard.find('\\') != std::string::npos ||
          shard == "." || shard == "..")
        fail(ErrorKind::Format, index_path.string() + ": shard name '" + shard + "' is not a plain file name");
      weight_map[it.key()] = shard;
      if (seen.insert(shard).second) shard_names.push_back(shard);
    }
  } else if (fs::exists(d / "model.safetensors")) {
    shard_names.push_back("model.safetensors");
  } else {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec))
      if (e.path().extension() == ".safetensors") found.push_back(e.path().filename().string());
    if (ec) fail(ErrorKind::NotFound, "cannot read checkpoint directory " + dir + ": " + ec.message());
    if (found.size() != 1)
      fail(ErrorKind::NotFound, "no model.safetensors or model.safetensors.index.json in " + dir +
                                    (found.empty() ? "" : " (and several other .safetensors files)"));
    shard_names = found;
  }

  std::map<std::string, size_t> shard_idx;
  for (const auto& s : shard_names) {
    shard_idx[s] = ck.files_.size();
    ck.files_.push_back(SafetensorsFile::open((d / s).string(), backing));
  }
  for (size_t i = 0; i < ck.files_.size(); ++i)
    for (const auto& t : ck.files_[i].tensors()) {
      if (!weight_map.empty()) {
        auto w = weight_map.find(t.name);
        if (w == weight_map.end() || shard_idx[w->second] != i) continue;  // not this shard's
      }
      if (!ck.index_.emplace(t.name, i).second)
        fail(ErrorKind::Format, "tensor '" + t.name + "' appears in more than one file of " + dir);
    }
  for (const auto& [name, shard] : weight_map)
    if (!ck.index_.count(name))
      fail(ErrorKind::Format, "index says tensor '" + name + "' is in " + shard + " but it is not there");
  return ck;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [n, i] : index_) out.push_back(n);
  return out;
}

const SafetensorsTensorInfo* SafetensorsCheckpoint::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : files_[it->second].find(name);
}

const SafetensorsTensorInfo& SafetensorsCheckpoint::at(const std::string& name) const {
  const auto* t = find(name);
  if (!t) fail(ErrorKind::NotFound, "tensor '" + name + "' not found in checkpoint " + dir_);
  return *t;
}

const SafetensorsFile& SafetensorsCheckpoint::file_of(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail(ErrorKind::NotFound, "tensor '" + name + "' not found in checkpoint " + dir_);
  return files_[it->second];
}

Tensor SafetensorsCheckpoint::load_tensor(const std::string& name) const { return file_of(name).load_tensor(name); }

}  // namespace attnscope
