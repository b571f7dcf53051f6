// Hub client against scripts/hub_test_server.py on 127.0.0.1 (started and stopped by each test):
// fresh download into the HF cache layout, cache hits with the server gone, offline mode, resumed
// transfers, sha256 checks, 401 / 404 messages, sharded checkpoints.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "attnscope/error.h"
#include "attnscope/hub.h"
#include "attnscope/model.h"
#include "formats/safetensors.h"

using namespace attnscope;
using namespace attnscope::hub;
namespace fs = std::filesystem;

namespace {

const std::string kModels = ATTNSCOPE_MODELS_DIR;
const std::string kStories = kModels + "/safetensors/stories260K-hf";
const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";
const std::string kRepo = "test-org/stories260K-hf";

fs::path temp_dir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / ("attnscope_hub_" + tag + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The local hub: a python process serving `root` as `repo`, stopped on destruction.
class HubServer {
 public:
  HubServer(const std::string& root, const fs::path& work, std::vector<std::string> extra = {}) {
    port_file_ = (work / ("port." + std::to_string(counter_++))).string();
    fs::remove(port_file_);
    std::vector<std::string> args = {
        "/usr/bin/python3", std::string(ATTNSCOPE_SOURCE_DIR) + "/scripts/hub_test_server.py",
        "--root",           root,
        "--repo",           kRepo,
        "--commit",         kCommit,
        "--port-file",      port_file_,
        "--max-seconds",    "120"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 200 && !fs::exists(port_file_); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!fs::exists(port_file_)) {
      stop();
      throw std::runtime_error("hub test server did not start");
    }
    port_ = std::stoi(read_file(port_file_));
  }
  ~HubServer() { stop(); }
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

 private:
  static inline int counter_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string port_file_;
};

HubOptions options_for(const HubServer& s, const fs::path& cache) {
  HubOptions o;
  o.endpoint = s.endpoint();
  o.cache_dir = cache.string();
  o.progress = false;
  return o;
}

// Runs f, expecting an Error of `kind` whose message contains every needle.
template <typename F>
void expect_error(F&& f, ErrorKind kind, std::vector<std::string> needles) {
  try {
    f();
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(HubSha256, KnownVectors) {
  EXPECT_EQ(sha256_hex("", 0), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc", 3), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_hex(two_blocks.data(), two_blocks.size()),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million.data(), million.size()),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // The manifest's checksum of the shared safetensors file.
  EXPECT_EQ(sha256_file(kStories + "/model.safetensors"),
            "70941d37216cc25733e0f03670c4c16e3a93ef330d9cb56706eef6249bd11c9f");
}

TEST(HubNames, RepoRefAndCacheDir) {
  auto r = RepoRef::parse("mlx-community/Llama-3.2-1B-Instruct-4bit");
  EXPECT_EQ(r.repo_id, "mlx-community/Llama-3.2-1B-Instruct-4bit");
  EXPECT_EQ(r.revision, "main");
  r = RepoRef::parse("org/name@v1.0");
  EXPECT_EQ(r.revision, "v1.0");
  EXPECT_TRUE(looks_like_repo_id("HuggingFaceTB/SmolLM2-135M@refs/pr/1"));
  for (const char* bad : {"name", "a/b/c", "../x", "org/..", "org/na me", "org/name@", "org/name@../../x", "/abs/path"})
    EXPECT_FALSE(looks_like_repo_id(bad)) << bad;
  HubOptions o;
  o.cache_dir = "/c";
  EXPECT_EQ(repo_cache_dir(RepoRef::parse("org/name"), o), "/c/models--org--name");
}

TEST(HubNames, EnvironmentVariables) {
  ::setenv("HF_HOME", "/tmp/hfhome", 1);
  ::unsetenv("HF_HUB_CACHE");
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
  ::setenv("HF_TOKEN", "tok", 1);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  HubOptions o = HubOptions::from_env();
  EXPECT_EQ(o.cache_dir, "/tmp/hfhome/hub");
  EXPECT_EQ(o.endpoint, "http://127.0.0.1:9");
  EXPECT_EQ(o.token, "tok");
  EXPECT_TRUE(o.offline);
  ::setenv("HF_HUB_CACHE", "/tmp/hfcache", 1);
  ::setenv("HF_HUB_OFFLINE", "0", 1);
  o = HubOptions::from_env();
  EXPECT_EQ(o.cache_dir, "/tmp/hfcache");
  EXPECT_FALSE(o.offline);
  for (const char* v : {"HF_HOME", "HF_HUB_CACHE", "HF_ENDPOINT", "HF_TOKEN", "HF_HUB_OFFLINE"}) ::unsetenv(v);
}

TEST(Hub, FreshDownloadThenCacheHitWithServerStoppedAndOffline) {
  fs::path work = temp_dir("fresh"), cache = work / "cache";
  HubServer server(kStories, work, {"--log", (work / "log").string()});
  HubOptions o = options_for(server, cache);
  const std::string snap = download_model(kRepo, o);

  const fs::path repo_dir = cache / "models--test-org--stories260K-hf";
  EXPECT_EQ(fs::path(snap), repo_dir / "snapshots" / kCommit);
  EXPECT_EQ(read_file(repo_dir / "refs" / "main"), kCommit);
  // Snapshot entries are relative symlinks into blobs/, the LFS blob named by its sha256.
  const fs::path weights = fs::path(snap) / "model.safetensors";
  ASSERT_TRUE(fs::is_symlink(weights));
  EXPECT_EQ(fs::read_symlink(weights),
            fs::path("../../blobs/70941d37216cc25733e0f03670c4c16e3a93ef330d9cb56706eef6249bd11c9f"));
  EXPECT_EQ(sha256_file(weights.string()), "70941d37216cc25733e0f03670c4c16e3a93ef330d9cb56706eef6249bd11c9f");
  EXPECT_EQ(read_file(fs::path(snap) / "config.json"), read_file(kStories + "/config.json"));
  for (const auto& e : fs::directory_iterator(repo_dir / "blobs"))
    EXPECT_EQ(e.path().extension(), "") << "leftover " << e.path();
  EXPECT_NO_THROW(SafetensorsFile::open(weights.string()));

  // Second call with the server up: nothing is downloaded again (only the revision is asked).
  const std::string log_before = read_file(work / "log");
  const size_t log_lines_before = static_cast<size_t>(std::count(log_before.begin(), log_before.end(), '\n'));
  EXPECT_EQ(download_model(kRepo, o), snap);
  std::string log = read_file(work / "log");
  EXPECT_EQ(static_cast<size_t>(std::count(log.begin(), log.end(), '\n')), log_lines_before + 1);

  server.stop();
  EXPECT_EQ(download_model(kRepo, o), snap);  // hub unreachable: the complete cached snapshot
  o.offline = true;
  EXPECT_EQ(download_model(kRepo, o), snap);
  EXPECT_EQ(download_file(RepoRef::parse(kRepo), "config.json", o), snap + "/config.json");
  expect_error([&] { download_file(RepoRef::parse(kRepo), "tokenizer.json", o); }, ErrorKind::NotFound,
               {"HF_HUB_OFFLINE=1", "tokenizer.json", "not in the cache"});
  fs::remove_all(work);
}

TEST(Hub, OfflineAndNoNetworkWithoutCache) {
  fs::path work = temp_dir("offline");
  HubOptions o;
  o.cache_dir = (work / "cache").string();
  o.progress = false;
  o.offline = true;
  expect_error([&] { download_model(kRepo, o); }, ErrorKind::NotFound,
               {"HF_HUB_OFFLINE=1", "not in the cache", "models--test-org--stories260K-hf"});
  // A port nobody listens on (the server's, after it stopped).
  int dead_port;
  {
    HubServer s(kStories, work);
    dead_port = s.port();
  }
  o.offline = false;
  o.endpoint = "http://127.0.0.1:" + std::to_string(dead_port);
  expect_error([&] { download_model(kRepo, o); }, ErrorKind::Network, {"cannot reach", "not in the cache"});
  expect_error([&] { download_file(RepoRef::parse(kRepo), "config.json", o); }, ErrorKind::Network,
               {"cannot reach", "HF_HUB_OFFLINE"});
  fs::remove_all(work);
}

TEST(Hub, InterruptedTransferResumesWithRange) {
  fs::path work = temp_dir("resume"), cache = work / "cache";
  HubServer server(kStories, work, {"--cut-after", "300000", "--cut-times", "1", "--log", (work / "log").string()});
  HubOptions o = options_for(server, cache);
  o.max_retries = 1;  // no retry inside the call: the first call must fail and leave the part
  expect_error([&] { download_model(kRepo, o); }, ErrorKind::Network,
               {"model.safetensors", "broke off at 300000 of 1176248 bytes", "resumes"});
  const fs::path part = cache /
                        "models--test-org--stories260K-hf/blobs/"
                        "70941d37216cc25733e0f03670c4c16e3a93ef330d9cb56706eef6249bd11c9f.incomplete";
  ASSERT_TRUE(fs::exists(part));
  EXPECT_EQ(fs::file_size(part), 300000u);
  EXPECT_FALSE(fs::exists(cache / "models--test-org--stories260K-hf/snapshots" / kCommit / "model.safetensors"));

  const std::string snap = download_model(kRepo, o);  // resumes from byte 300000
  EXPECT_EQ(sha256_file(snap + "/model.safetensors"),
            "70941d37216cc25733e0f03670c4c16e3a93ef330d9cb56706eef6249bd11c9f");
  EXPECT_FALSE(fs::exists(part));
  EXPECT_NE(read_file(work / "log").find("range=bytes=300000-"), std::string::npos) << read_file(work / "log");
  fs::remove_all(work);
}

TEST(Hub, BrokenTransferIsRetriedWithinOneCall) {
  fs::path work = temp_dir("retry"), cache = work / "cache";
  HubServer server(kStories, work, {"--cut-after", "100000", "--cut-times", "2", "--log", (work / "log").string()});
  const std::string snap = download_model(kRepo, options_for(server, cache));
  EXPECT_EQ(sha256_file(snap + "/model.safetensors"),
            "70941d37216cc25733e0f03670c4c16e3a93ef330d9cb56706eef6249bd11c9f");
  const std::string log = read_file(work / "log");
  EXPECT_NE(log.find("range=bytes=100000-"), std::string::npos) << log;
  EXPECT_NE(log.find("range=bytes=200000-"), std::string::npos) << log;
  fs::remove_all(work);
}

TEST(Hub, Sha256MismatchIsRefused) {
  fs::path work = temp_dir("sha"), cache = work / "cache";
  HubServer server(kStories, work, {"--corrupt"});
  expect_error([&] { download_model(kRepo, options_for(server, cache)); }, ErrorKind::Network,
               {"sha256 mismatch", "model.safetensors",
                "70941d37216cc25733e0f03670c4c16e3a93ef330d9cb56706eef6249bd11c9f", "discarded"});
  const fs::path repo_dir = cache / "models--test-org--stories260K-hf";
  EXPECT_FALSE(fs::exists(repo_dir / "snapshots" / kCommit / "model.safetensors"));
  for (const auto& e : fs::directory_iterator(repo_dir / "blobs"))
    EXPECT_EQ(e.path().filename().string().find("70941d37"), std::string::npos) << e.path();
  fs::remove_all(work);
}

TEST(Hub, GatedModelNeedsToken) {
  fs::path work = temp_dir("401"), cache = work / "cache";
  HubServer server(kStories, work, {"--token", "s3cret"});
  HubOptions o = options_for(server, cache);
  expect_error([&] { download_model(kRepo, o); }, ErrorKind::Network, {"401", "gated", "set HF_TOKEN"});
  o.token = "wrong";
  expect_error([&] { download_model(kRepo, o); }, ErrorKind::Network, {"401", "HF_TOKEN was refused"});
  o.token = "s3cret";
  const std::string snap = download_model(kRepo, o);
  EXPECT_TRUE(fs::exists(fs::path(snap) / "model.safetensors"));
  fs::remove_all(work);
}

TEST(Hub, NotFoundMessages) {
  fs::path work = temp_dir("404"), cache = work / "cache";
  HubServer server(kStories, work);
  HubOptions o = options_for(server, cache);
  expect_error([&] { download_file(RepoRef::parse(kRepo), "no_such_file.json", o); }, ErrorKind::NotFound,
               {"404", "no_such_file.json", kRepo});
  expect_error([&] { download_model("test-org/no-such-model", o); }, ErrorKind::NotFound,
               {"repository 'test-org/no-such-model' not found", "HF_TOKEN"});
  expect_error([&] { download_model(kRepo + "@v9", o); }, ErrorKind::NotFound, {"revision 'v9' not found"});
  fs::remove_all(work);
}

TEST(Hub, ShardedCheckpointDownloadsEveryShard) {
  fs::path work = temp_dir("shards"), cache = work / "cache", repo = work / "repo";
  fs::create_directories(repo);
  // stories260K split into two shards with an index, plus a tokenizer file to fetch along.
  auto whole = SafetensorsFile::open(kStories + "/model.safetensors");
  SafetensorsWriter w1, w2;
  std::string index = R"({"metadata": {}, "weight_map": {)";
  bool first = true;
  for (const auto& t : whole.tensors()) {
    const bool one = t.name < "model.layers.2";
    const Tensor v = whole.load_tensor(t.name);
    (one ? w1 : w2).add_f32(t.name, v);
    index += std::string(first ? "" : ",") + "\"" + t.name + "\": \"model-0000" + (one ? "1" : "2") +
             "-of-00002.safetensors\"";
    first = false;
  }
  index += "}}";
  w1.write((repo / "model-00001-of-00002.safetensors").string());
  w2.write((repo / "model-00002-of-00002.safetensors").string());
  std::ofstream(repo / "model.safetensors.index.json") << index;
  fs::copy_file(kStories + "/config.json", repo / "config.json");
  std::ofstream(repo / "tokenizer_config.json") << R"({"add_bos_token": true})";
  std::ofstream(repo / "README.md") << "not needed\n";

  HubServer server(repo.string(), work);
  const std::string snap = download_model(kRepo, options_for(server, cache));
  for (const char* f : {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
                        "model-00002-of-00002.safetensors", "tokenizer_config.json"})
    EXPECT_TRUE(fs::exists(fs::path(snap) / f)) << f;
  EXPECT_FALSE(fs::exists(fs::path(snap) / "README.md"));
  auto ck = SafetensorsCheckpoint::open_dir(snap);
  EXPECT_EQ(ck.names().size(), whole.tensors().size());
  fs::remove_all(work);
}

// Model::load("org/name") and the command line go through the same resolver (HF_* variables).
TEST(Hub, ModelLoadByNameFromTheLocalHub) {
  fs::path work = temp_dir("modelload"), cache = work / "cache";
  HubServer server(kStories, work);
  ::setenv("HF_ENDPOINT", server.endpoint().c_str(), 1);
  ::setenv("HF_HUB_CACHE", cache.c_str(), 1);
  ::unsetenv("HF_HUB_OFFLINE");
  LoadOptions opt;
  opt.tokenizer = kModels + "/stories260K.gguf";
  const Model hub_model = Model::load(kRepo, opt);
  const Model local = Model::load(kStories, opt);
  const std::vector<int32_t> ids = {1, 403, 407, 261, 378};
  const Trace a = hub_model.run(ids), b = local.run(ids);
  for (int64_t i = 0; i < a.logits.numel(); ++i) ASSERT_EQ(a.logits.data()[i], b.logits.data()[i]);

  // The attnscope binary resolves the same name from the cache it just filled, offline.
  server.stop();
  const std::string cmd = "HF_HUB_OFFLINE=1 " + std::string(ATTNSCOPE_CLI) + " info --json -m " + kRepo + " > " +
                          (work / "info.json").string() + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << read_file(work / "info.json");
  EXPECT_NE(read_file(work / "info.json").find("\"n_layer\""), std::string::npos) << read_file(work / "info.json");
  ::setenv("HF_HUB_CACHE", (work / "empty").c_str(), 1);
  const std::string cmd2 = "HF_HUB_OFFLINE=1 " + std::string(ATTNSCOPE_CLI) + " info -m " + kRepo + " > " +
                           (work / "err.txt").string() + " 2>&1";
  EXPECT_NE(std::system(cmd2.c_str()), 0);
  EXPECT_NE(read_file(work / "err.txt").find("not in the cache"), std::string::npos) << read_file(work / "err.txt");
  for (const char* v : {"HF_ENDPOINT", "HF_HUB_CACHE"}) ::unsetenv(v);
  fs::remove_all(work);
}

// Two attnscope processes fetch the same model at once over a slow link: the blob lock makes one
// download it while the other waits, so both end with the one correct file, the LFS blob is
// transferred once, and nothing partial is left (issue 13).
TEST(Hub, TwoProcessesDownloadingTheSameBlobEndWithOneCorrectFile) {
  fs::path work = temp_dir("concurrent"), cache = work / "cache";
  HubServer server(kStories, work, {"--chunk-delay", "0.005", "--log", (work / "log").string()});
  auto one = [&](int i) {
    const std::string n = std::to_string(i);
    return "(HF_ENDPOINT=" + server.endpoint() + " HF_HUB_CACHE=" + cache.string() +
           " HF_HUB_OFFLINE= " + ATTNSCOPE_CLI + " info --json -m " + kRepo + " > " + (work / ("out" + n)).string() +
           " 2>&1; echo $? > " + (work / ("rc" + n)).string() + ")";
  };
  ASSERT_EQ(std::system((one(1) + " & " + one(2) + " & wait").c_str()), 0);
  for (int i : {1, 2}) {
    const std::string n = std::to_string(i);
    EXPECT_EQ(read_file(work / ("rc" + n)), "0\n") << read_file(work / ("out" + n));
    EXPECT_NE(read_file(work / ("out" + n)).find("\"n_layer\""), std::string::npos) << read_file(work / ("out" + n));
  }
  const fs::path repo_dir = cache / "models--test-org--stories260K-hf";
  const std::string sha = "70941d37216cc25733e0f03670c4c16e3a93ef330d9cb56706eef6249bd11c9f";
  EXPECT_EQ(sha256_file((repo_dir / "blobs" / sha).string()), sha);
  for (const auto& e : fs::directory_iterator(repo_dir / "blobs"))
    EXPECT_EQ(e.path().extension(), "") << "leftover " << e.path();
  const std::string log = read_file(work / "log");
  size_t lfs_gets = 0;
  for (size_t at = log.find("GET /lfs/"); at != std::string::npos; at = log.find("GET /lfs/", at + 1)) ++lfs_gets;
  EXPECT_EQ(lfs_gets, 1u) << log;
  fs::remove_all(work);
}
