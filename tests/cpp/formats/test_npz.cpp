// The .npz writer, read back by numpy itself (Debian's /usr/bin/python3) and by hand.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "attnscope/error.h"
#include "attnscope/npz.h"
#include "attnscope/trace.h"

using namespace attnscope;

namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("attnscope_test_npz_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Runs python code with the file path as sys.argv[1]; returns stdout.
std::string python(const std::string& code, const std::string& path) {
  const std::string script = temp_path("script.py");
  std::ofstream(script) << code;
  std::string cmd = "/usr/bin/python3 " + script + " " + path + " 2>&1";
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
  }
  std::filesystem::remove(script);
  return out;
}

}  // namespace

TEST(Npz, HeaderIsPaddedToSixtyFourBytes) {
  const std::string h = detail::npy_header("<f4", {2, 3});
  EXPECT_EQ(h.size() % 64, 0u);
  EXPECT_EQ(h.substr(0, 6), "\x93NUMPY");
  EXPECT_NE(h.find("'shape': (2, 3), }"), std::string::npos);
  EXPECT_NE(detail::npy_header("<f4", {7}).find("'shape': (7,), }"), std::string::npos);
  EXPECT_EQ(h.back(), '\n');
}

TEST(Npz, TraceIsReadableByNumpy) {
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  Trace t;
  t.tokens = {{1, 20, 300}, {4, 5, 6}};
  t.str_tokens = {{"<s>", " h\xC3\xA9llo", "\xE2\x96\x81x"}, {"a", "\xF0\x9F\x98\x80", ""}};
  Tensor p({2, 1, 3, 3});
  for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] = 0.5f * static_cast<float>(i) - 1.25f;
  t.set("blocks.0.attn.hook_pattern", p);
  t.set("hook_embed", Tensor({2, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}));
  t.logits = Tensor({2, 3, 1}, {9, 8, 7, 6, 5, 4});
  const std::string path = temp_path("trace.npz");
  save_trace_npz(t, path, true);
  const std::string out = python(R"(
import sys, numpy as np
d = np.load(sys.argv[1])
print(sorted(d.files))
p = d['blocks.0.attn.hook_pattern']
print(p.dtype, p.shape, float(p.reshape(-1)[5]), float(p.sum()))
print(d['tokens'].dtype, d['tokens'].tolist())
print(d['str_tokens'].dtype.kind, [[s.encode('utf-8').hex() for s in row] for row in d['str_tokens']])
print(d['hook_embed'].tolist(), d['logits'].reshape(-1).tolist())
)",
                                 path);
  std::istringstream lines(out);
  std::string l1, l2, l3, l4, l5;
  std::getline(lines, l1);
  std::getline(lines, l2);
  std::getline(lines, l3);
  std::getline(lines, l4);
  std::getline(lines, l5);
  EXPECT_EQ(l1, "['blocks.0.attn.hook_pattern', 'hook_embed', 'logits', 'str_tokens', 'tokens']") << out;
  // sum of 0.5*i - 1.25 over i < 18 = 0.5*153 - 22.5 = 54
  EXPECT_EQ(l2, "float32 (2, 1, 3, 3) 1.25 54.0") << out;
  EXPECT_EQ(l3, "int32 [[1, 20, 300], [4, 5, 6]]") << out;
  EXPECT_EQ(l4, "U [['3c733e', '2068c3a96c6c6f', 'e2968178'], ['61', 'f09f9880', '']]") << out;
  EXPECT_EQ(l5,
            "[[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [[7.0, 8.0], [9.0, 10.0], [11.0, 12.0]]] "
            "[9.0, 8.0, 7.0, 6.0, 5.0, 4.0]")
      << out;
  std::filesystem::remove(path);
}

// Compressed archives with float16 entries, as numpy.load reads them (zipfile checks each crc).
TEST(Npz, CompressedFloat16EntriesReadBackByNumpy) {
  if (!std::filesystem::exists("/usr/bin/python3")) GTEST_SKIP() << "no /usr/bin/python3";
  const std::string path = temp_path("compressed.npz");
  // 3 M values: several 1 M-value conversion chunks and many 64 KB deflate outputs.
  const int64_t n = 3 * (1 << 20) + 5;
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i % 1000) / 1024.0f;  // exact in f16
  {
    NpzWriter w(path, /*compress=*/true);
    w.add_f16("pattern", {n}, v.data());
    w.add_f32("exact", {2, 2}, std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f}.data());
    w.finish();
  }
  const std::string out = python(R"(
import sys, zipfile, numpy as np
z = zipfile.ZipFile(sys.argv[1])
print([i.compress_type for i in z.infolist()], z.testzip())
d = np.load(sys.argv[1])
p = d['pattern']
want = (np.arange(p.size) % 1000) / 1024.0
print(p.dtype, p.shape, bool(np.array_equal(p.astype(np.float64), want)), d['exact'].dtype, d['exact'].tolist())
)",
                                 path);
  EXPECT_EQ(out,
            "[8, 8] None\nfloat16 (3145733,) True float32 [[0.10000000149011612, 0.20000000298023224], "
            "[0.30000001192092896, 0.4000000059604645]]\n");
  EXPECT_LT(std::filesystem::file_size(path), static_cast<uintmax_t>(n) * 2 / 4);  // it really compressed
  std::filesystem::remove(path);
}

TEST(Npz, ArchiveStructureParsesByHand) {
  const std::string path = temp_path("plain.npz");
  {
    NpzWriter w(path);
    const float v[3] = {1.0f, 2.0f, 3.0f};
    w.add_f32("a", {3}, v);
    w.finish();
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GE(bytes.size(), 30u + 5 + 64 + 12 + 22);
  EXPECT_EQ(bytes.substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_EQ(bytes.substr(30, 5), "a.npy");
  EXPECT_EQ(bytes.substr(35, 6), "\x93NUMPY");
  const size_t header = detail::npy_header("<f4", {3}).size();
  float back[3];
  ASSERT_GE(bytes.size(), 35 + header + sizeof back);
  std::memcpy(back, bytes.data() + 35 + header, sizeof back);
  EXPECT_EQ(back[2], 3.0f);
  EXPECT_EQ(bytes.substr(bytes.size() - 22, 4), std::string("PK\x05\x06", 4));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove(path);
}

TEST(Npz, UnwritablePathIsAnIoError) { EXPECT_THROW(NpzWriter("/nonexistent-dir/x.npz"), Error); }
