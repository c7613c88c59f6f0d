// BuildKit's own parser cases and shell-lexer vectors (testdata/dockerfile,
// see SOURCE.md there): every case must give exactly BuildKit's answer.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/shell_lex.h"
#include "tests/dockerfile/testdata.h"

namespace hoist::dockerfile {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TestdataDir;

std::vector<fs::path> SortedDirs(const fs::path& root) {
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(root)) {
    if (e.is_directory()) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

TEST_CASE("every BuildKit parser case dumps to exactly its result", "[buildkit]") {
  int total = 0, passed = 0;
  for (const fs::path& dir : SortedDirs(TestdataDir() / "parser-cases")) {
    ++total;
    std::string dockerfile = ReadFile(dir / "Dockerfile");
    std::string expected = ReadFile(dir / "result");
    Result<Ast> ast = ParseText(dockerfile, (dir / "Dockerfile").string());
    INFO(dir.filename().string());
    if (!ast.ok()) {
      FAIL_CHECK("parse failed: " << ast.status().message());
      continue;
    }
    std::string got = ast->Dump();
    CHECK(got == expected);
    if (got == expected) ++passed;
  }
  std::printf("dockerfile: parser cases: %d/%d passed\n", passed, total);
  CHECK(total >= 33);
  CHECK(passed == total);
}

TEST_CASE("every BuildKit negative parser case is rejected", "[buildkit]") {
  int total = 0, passed = 0;
  for (const fs::path& dir : SortedDirs(TestdataDir() / "parser-negative-cases")) {
    ++total;
    Result<Ast> ast = ParseText(ReadFile(dir / "Dockerfile"), (dir / "Dockerfile").string());
    INFO(dir.filename().string());
    CHECK_FALSE(ast.ok());
    if (!ast.ok()) ++passed;
  }
  std::printf("dockerfile: negative parser cases: %d/%d rejected\n", passed, total);
  CHECK(total >= 4);
  CHECK(passed == total);
}

// envVarTest: "A|input|expected" (A all platforms, U unix, W windows);
// each input is one word expanded in PWD=/home SHELL=bash KOREAN=한국어 NULL=.
TEST_CASE("every envVarTest line gives its expected word or error", "[buildkit]") {
  ShellLex lex('\\');
  Env env = Env::FromList({"PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="});
  int total = 0, passed = 0, windows_only = 0, line_no = 0;
  for (const std::string& raw : Lines(ReadFile(TestdataDir() / "envVarTest"))) {
    ++line_no;
    if (!raw.empty() && raw[0] == '#') continue;
    std::string line = Trim(raw);
    if (line.empty()) continue;
    std::vector<std::string> parts = Split(line, '|');
    REQUIRE(parts.size() == 3);
    std::string platform = Trim(parts[0]), input = Trim(parts[1]), expected = Trim(parts[2]);
    REQUIRE((platform == "A" || platform == "U" || platform == "W"));
    if (platform == "W") {
      ++windows_only;
      continue;
    }
    ++total;
    Result<std::string> got = lex.ProcessWord(input, env);
    INFO("envVarTest line " << line_no << ": " << input);
    bool ok;
    if (expected == "error") {
      ok = !got.ok();
      CHECK_FALSE(got.ok());
    } else {
      ok = got.ok() && *got == expected;
      CHECK(got.ok());
      if (got.ok()) CHECK(*got == expected);
    }
    if (ok) ++passed;
  }
  std::printf("dockerfile: envVarTest: %d/%d unix lines passed (%d windows-only lines skipped)\n",
              passed, total, windows_only);
  CHECK(total > 200);
  CHECK(passed == total);
}

// wordsTest: "ENV name=value" lines set variables for the lines after them;
// "input | w1,w2" lines must split into exactly those words (or "error").
TEST_CASE("every wordsTest line splits into its expected words", "[buildkit]") {
  ShellLex lex('\\');
  std::vector<std::string> envs;
  int total = 0, passed = 0, line_no = 0;
  for (const std::string& line : Lines(ReadFile(TestdataDir() / "wordsTest"))) {
    ++line_no;
    if (!line.empty() && line[0] == '#') continue;
    if (line.rfind("ENV ", 0) == 0) {
      std::string e = line.substr(3);
      e.erase(0, e.find_first_not_of(' '));
      envs.push_back(e);
      continue;
    }
    std::vector<std::string> parts = Split(line, '|');
    REQUIRE(parts.size() == 2);
    ++total;
    std::string input = Trim(parts[0]);
    std::string rhs = parts[1];
    rhs.erase(0, rhs.find_first_not_of(' '));
    std::vector<std::string> expected = Split(rhs, ',');
    Result<std::vector<std::string>> got = lex.ProcessWords(input, Env::FromList(envs));
    std::vector<std::string> words = got.ok() ? *got : std::vector<std::string>{"error"};
    INFO("wordsTest line " << line_no << ": " << input);
    CHECK(words == expected);
    if (words == expected) ++passed;
  }
  std::printf("dockerfile: wordsTest: %d/%d lines passed\n", passed, total);
  CHECK(total >= 24);
  CHECK(passed == total);
}

}  // namespace
}  // namespace hoist::dockerfile
