// The shell-word expander beyond BuildKit's vectors: pattern modifiers,
// unset handling, matches, the backtick escape, word splitting.
#include "builder/dockerfile/shell_lex.h"

#include <catch2/catch.hpp>

namespace hoist::dockerfile {
namespace {

std::string Word(std::string_view in, const Env& env, char escape = '\\', LexOptions o = {}) {
  Result<std::string> r = ShellLex(escape, o).ProcessWord(in, env);
  INFO(in);
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("default, alternative and required-value modifiers", "[shell]") {
  Env env = Env::FromList({"SET=v", "EMPTY="});
  CHECK(Word("${SET:-d}${EMPTY:-d}${NONE:-d}", env) == "vdd");
  CHECK(Word("${SET-d}${EMPTY-d}${NONE-d}", env) == "vd");
  CHECK(Word("${SET:+a}${EMPTY:+a}${NONE:+a}", env) == "a");
  CHECK(Word("${SET+a}${EMPTY+a}${NONE+a}", env) == "aa");
  CHECK(Word("${SET:?x}${EMPTY?x}", env) == "v");
  Result<std::string> unset = ShellLex().ProcessWord("${NONE?must be set}", env);
  REQUIRE_FALSE(unset.ok());
  CHECK_THAT(unset.status().message(), Catch::Contains("NONE: must be set"));
  Result<std::string> empty = ShellLex().ProcessWord("${EMPTY:?}", env);
  REQUIRE_FALSE(empty.ok());
  CHECK_THAT(empty.status().message(), Catch::Contains("EMPTY: is not allowed to be empty"));
}

TEST_CASE("prefix and suffix removal, shortest and longest", "[shell]") {
  Env env = Env::FromList({"P=/usr/local/bin/tool.tar.gz"});
  CHECK(Word("${P#*/}", env) == "usr/local/bin/tool.tar.gz");
  CHECK(Word("${P##*/}", env) == "tool.tar.gz");
  CHECK(Word("${P%.*}", env) == "/usr/local/bin/tool.tar");
  CHECK(Word("${P%%.*}", env) == "/usr/local/bin/tool");
  CHECK(Word("${P#nomatch}", env) == "/usr/local/bin/tool.tar.gz");
  CHECK(Word("${P%?z}", env) == "/usr/local/bin/tool.tar.");
  CHECK(Word("${P#/usr/local/\\*}", env) == "/usr/local/bin/tool.tar.gz");
  Result<std::string> bad = ShellLex().ProcessWord("${P#\\x}", env);
  CHECK_FALSE(bad.ok());
  CHECK_FALSE(ShellLex().ProcessWord("${P:#x}", env).ok());
}

TEST_CASE("pattern replacement, first and all", "[shell]") {
  Env env = Env::FromList({"V=a-b-c", "U=1.2.3"});
  CHECK(Word("${V/-/_}", env) == "a_b-c");
  CHECK(Word("${V//-/_}", env) == "a_b_c");
  CHECK(Word("${U//./}", env) == "123");
  CHECK(Word("${V//?/x}", env) == "xxxxx");
  CHECK(Word("${V/b*/X}", env) == "a-X");
  CHECK(Word("${V//x/y}", env) == "a-b-c");
  CHECK(Word("${NONE/a/b}", env) == "");
  CHECK_FALSE(ShellLex().ProcessWord("${V/a", env).ok());
}

TEST_CASE("unset variables can be kept as written", "[shell]") {
  LexOptions keep;
  keep.skip_unset_env = true;
  Env env = Env::FromList({"A=1"});
  CHECK(Word("$A $B ${C} ${D:-x} ${A:-x}", env, '\\', keep) == "1 $B ${C} ${D:-x} 1");
}

TEST_CASE("matched and unmatched variables are reported", "[shell]") {
  Env env = Env::FromList({"A=1"});
  Result<WordResult> r = ShellLex().ProcessWordWithMatches("$A ${B:-x} ${A}", env);
  REQUIRE(r.ok());
  CHECK(r->word == "1 x 1");
  CHECK(r->matched == std::set<std::string>{"A"});
  CHECK(r->unmatched == std::set<std::string>{"B"});
}

TEST_CASE("the backtick escape character", "[shell]") {
  Env env = Env::FromList({"A=1"});
  CHECK(Word("a`$A `\"q`\" c:\\dir", env, '`') == "a$A \"q\" c:\\dir");
  CHECK(Word("\"`$A `\"\"", env, '`') == "$A \"");
}

TEST_CASE("word splitting splits unquoted variable values only", "[shell]") {
  Env env = Env::FromList({"X=a  b"});
  Result<std::vector<std::string>> w = ShellLex().ProcessWords("1 $X \"$X\" '$X' \\ z", env);
  REQUIRE(w.ok());
  CHECK(*w == std::vector<std::string>{"1", "a", "b", "a  b", "$X", " z"});
}

TEST_CASE("quotes and escapes in words", "[shell]") {
  Env env;
  CHECK(Word("'a\\b'\"c\\\"d\\e\"", env) == "a\\bc\"d\\e");
  LexOptions raw;
  raw.raw_quotes = true;
  CHECK(Word("'a'\"b\"", env, '\\', raw) == "'a'\"b\"");
  LexOptions literal;
  literal.skip_process_quotes = true;
  CHECK(Word("it's \"$X\"", Env::FromList({"X=1"}), '\\', literal) == "it's \"1\"");
}

TEST_CASE("Env keeps first-definition order and replaces values", "[shell]") {
  Env env;
  env.Set("B", "1");
  env.Set("A", "2");
  env.Set("B", "3");
  REQUIRE(env.entries().size() == 2);
  CHECK(env.entries()[0] == std::pair<std::string, std::string>{"B", "3"});
  env.Remove("B");
  CHECK_FALSE(env.Get("B").has_value());
  CHECK(*env.Get("A") == "2");
}

}  // namespace
}  // namespace hoist::dockerfile
