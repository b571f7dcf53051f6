// Corpus reading: the three formats, and every kind of bad input refused or skipped with its
// file and line, never dropped silently.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "attnscope/corpus.h"
#include "attnscope/error.h"

namespace fs = std::filesystem;
using namespace attnscope;

namespace {

class CorpusReader : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("attnscope_corpus_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& data) {
    const fs::path p = dir_ / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
    return p.string();
  }
  std::string refused(const std::vector<std::string>& paths) {
    try {
      read_corpus(paths, BadInputPolicy::Refuse);
    } catch (const Error& e) {
      return e.what();
    }
    return "(accepted)";
  }
  fs::path dir_;
};

TEST_F(CorpusReader, TextFileOnePromptPerLine) {
  const std::string p = write("a.txt", "one\r\ntwo words\nthree\n");
  const Corpus c = read_corpus({p});
  ASSERT_EQ(c.prompts.size(), 3u);
  EXPECT_EQ(c.prompts[0].text, "one");  // "\r\n" line ends
  EXPECT_EQ(c.prompts[1].text, "two words");
  EXPECT_EQ(c.prompts[2].line, 3);
  EXPECT_EQ(c.prompts[2].index, 2);
  EXPECT_TRUE(c.skipped.empty());
}

TEST_F(CorpusReader, JsonlTextField) {
  const std::string p = write("a.jsonl", "{\"text\": \"hello \\u00e9\"}\n{\"id\": 3, \"text\": \"x\"}\n");
  const Corpus c = read_corpus({p});
  ASSERT_EQ(c.prompts.size(), 2u);
  EXPECT_EQ(c.prompts[0].text, "hello \xc3\xa9");
  EXPECT_EQ(c.prompts[1].line, 2);
}

TEST_F(CorpusReader, FolderOfTxtFilesSortedByName) {
  write("d/b.txt", "second\n");
  write("d/a.txt", "first\nstill first");
  write("d/notes.md", "ignored");
  const Corpus c = read_corpus({(dir_ / "d").string()});
  ASSERT_EQ(c.prompts.size(), 2u);
  EXPECT_EQ(c.prompts[0].text, "first\nstill first");
  EXPECT_EQ(c.prompts[1].text, "second");
  EXPECT_NE(c.prompts[1].source.find("b.txt"), std::string::npos);
}

TEST_F(CorpusReader, EveryBadLineIsRefusedWithItsLineNumber) {
  const std::string empty = write("e.txt", "ok\n\nok\n");
  EXPECT_NE(refused({empty}).find("e.txt:2: empty line"), std::string::npos) << refused({empty});
  const std::string blank = write("b.txt", "ok\n \t \n");
  EXPECT_NE(refused({blank}).find("b.txt:2: empty line"), std::string::npos);
  const std::string bad = write("u.txt", "ok\nok\nbad \xff\xfe byte\n");
  EXPECT_NE(refused({bad}).find("u.txt:3: not valid UTF-8"), std::string::npos) << refused({bad});
  const std::string json = write("j.jsonl", "{\"text\": \"a\"}\n{\"txt\": \"b\"}\n");
  EXPECT_NE(refused({json}).find("j.jsonl:2: no string \"text\" field"), std::string::npos);
  const std::string broken = write("k.jsonl", "{\"text\": \"a\"\n");
  EXPECT_NE(refused({broken}).find("k.jsonl:1: not valid JSON"), std::string::npos);
  try {
    read_corpus({(dir_ / "missing.txt").string()});
    FAIL() << "a missing file was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::NotFound);
    EXPECT_NE(std::string(e.what()).find("missing.txt"), std::string::npos);
  }
}

TEST_F(CorpusReader, SkipRecordsEveryBadItem) {
  const std::string p = write("m.txt", "first\n\nsecond \xc3\x28\nthird\n");
  const std::string j = write("n.jsonl", "{\"text\": \"\"}\n{\"text\": \"fourth\"}\n");
  const Corpus c = read_corpus({p, (dir_ / "gone.txt").string(), j}, BadInputPolicy::Skip);
  ASSERT_EQ(c.prompts.size(), 3u);
  EXPECT_EQ(c.prompts[1].text, "third");
  EXPECT_EQ(c.prompts[1].line, 4);
  EXPECT_EQ(c.prompts[2].text, "fourth");
  ASSERT_EQ(c.skipped.size(), 4u);
  EXPECT_EQ(describe(c.skipped[0]), p + ":2: empty line");
  EXPECT_EQ(describe(c.skipped[1]), p + ":3: not valid UTF-8");
  EXPECT_EQ(c.skipped[2].line, 0);
  EXPECT_NE(c.skipped[2].reason.find("no such file"), std::string::npos);
  EXPECT_EQ(describe(c.skipped[3]), j + ":1: empty text");
}

TEST_F(CorpusReader, NothingUsableIsAnError) {
  const std::string p = write("z.txt", "\n\n");
  try {
    read_corpus({p}, BadInputPolicy::Skip);
    FAIL() << "an empty corpus was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("2 skipped"), std::string::npos) << e.what();
  }
  EXPECT_THROW(corpus_from_texts({}, BadInputPolicy::Skip), Error);
  EXPECT_EQ(corpus_from_texts({"a", "b"}).prompts[1].source, "<list>");
}

}  // namespace
