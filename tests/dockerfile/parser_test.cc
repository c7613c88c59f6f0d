// The parser: directives, continuations, comments, heredocs, exec/shell
// forms, and the FILE:LINE:COL error format.
#include "builder/dockerfile/parser.h"

#include <catch2/catch.hpp>
#include <string>

namespace hoist::dockerfile {
namespace {

Ast MustParse(std::string_view text) {
  Result<Ast> ast = ParseText(text);
  INFO((ast.ok() ? std::string() : ast.status().message()));
  REQUIRE(ast.ok());
  return std::move(ast).value();
}

std::string ErrorOf(std::string_view text, std::string name = "Dockerfile") {
  Result<Ast> ast = ParseText(text, std::move(name));
  REQUIRE_FALSE(ast.ok());
  return ast.status().message();
}

TEST_CASE("escape directive switches the continuation character to backtick", "[parser]") {
  Ast ast = MustParse("# escape=`\nFROM windows\nRUN dir `\n  c:\\\nCOPY a\\b c\\\n");
  CHECK(ast.escape == '`');
  REQUIRE(ast.children.size() == 3);
  CHECK(ast.children[1].args[0] == "dir   c:\\");
  CHECK(ast.children[2].args == std::vector<std::string>{"a\\b", "c\\"});
  REQUIRE(ast.directives.size() == 1);
  CHECK(ast.directives[0].name == "escape");
  CHECK(ast.directives[0].line == 1);
}

TEST_CASE("directives are only read at the head of the file", "[parser]") {
  Ast ast = MustParse("# syntax=docker/dockerfile:1\n# check=skip=all\n# escape=`\nFROM a\n");
  REQUIRE(ast.directives.size() == 3);
  CHECK(ast.directives[0].value == "docker/dockerfile:1");
  CHECK(ast.directives[1].name == "check");
  CHECK(ast.escape == '`');

  Ast late = MustParse("# a comment\n# escape=`\nFROM a\nRUN x \\\n  y\n");
  CHECK(late.escape == '\\');
  CHECK(late.directives.empty());
  CHECK(late.children[1].args[0] == "x   y");

  Ast after_blank = MustParse("\n# escape=`\nFROM a\n");
  CHECK(after_blank.escape == '\\');
}

TEST_CASE("a repeated or invalid directive is an error", "[parser]") {
  CHECK_THAT(ErrorOf("# escape=`\n# escape=\\\nFROM a\n"),
             Catch::Contains("only one escape parser directive can be used"));
  CHECK_THAT(ErrorOf("# escape=x\nFROM a\n"), Catch::Contains("invalid escape token 'x'"));
}

TEST_CASE("continuations keep comment and blank lines out and warn on blank ones", "[parser]") {
  Ast ast = MustParse("FROM a\nRUN one \\\n# inside\n  two \\\n\n  three\n");
  REQUIRE(ast.children.size() == 2);
  CHECK(ast.children[1].args[0] == "one   two   three");
  CHECK(ast.children[1].start_line == 2);
  CHECK(ast.children[1].end_line == 6);
  REQUIRE(ast.warnings.size() == 1);
  CHECK_THAT(ast.warnings[0].message, Catch::Contains("Empty continuation line"));
}

TEST_CASE("an escaped escape character at the end of a line is not a continuation", "[parser]") {
  Ast ast = MustParse("FROM a\nENV X a\\\\\nENV Y b\n");
  REQUIRE(ast.children.size() == 3);
  CHECK(ast.children[1].args[1] == "a\\\\");
}

TEST_CASE("comments before an instruction are kept with it", "[parser]") {
  Ast ast = MustParse("# stage doc\nFROM a AS stage\n#\n# x\nRUN y\n");
  CHECK(ast.children[0].comments == std::vector<std::string>{"stage doc"});
  CHECK(ast.children[1].comments == std::vector<std::string>{"x"});
}

TEST_CASE("a byte-order mark and CRLF line endings are accepted", "[parser]") {
  Ast ast = MustParse(
      "\xEF\xBB\xBF"
      "FROM a\r\nRUN b \\\r\n c\r\n");
  REQUIRE(ast.children.size() == 2);
  CHECK(ast.children[0].args[0] == "a");
  CHECK(ast.children[1].args[0] == "b  c");
}

TEST_CASE("exec form needs a JSON array of strings, anything else is shell form", "[parser]") {
  Ast ast = MustParse(
      "FROM a\nCMD [\"a\", \"b c\"]\nCMD [\"a\", 'b']\nENTRYPOINT []\nRUN "
      "[\"\\u00e9\\ud83d\\ude00\"]\n");
  CHECK(ast.children[1].json);
  CHECK(ast.children[1].args == std::vector<std::string>{"a", "b c"});
  CHECK_FALSE(ast.children[2].json);
  CHECK(ast.children[2].args == std::vector<std::string>{"[\"a\", 'b']"});
  CHECK(ast.children[3].json);
  CHECK(ast.children[3].args.empty());
  CHECK(ast.children[4].args[0] == "\xC3\xA9\xF0\x9F\x98\x80");
  CHECK_THAT(ErrorOf("FROM a\nCMD [\"a\", 1]\n"),
             Catch::Contains("arrays must be comprised of strings only"));
  // A number too large for a float64 makes Go's decoder fail: shell form.
  Ast big = MustParse("FROM a\nCMD [\"a\", 1e999]\n");
  CHECK_FALSE(big.children[1].json);
}

TEST_CASE("flags are split off with quotes removed", "[parser]") {
  Ast ast = MustParse("FROM a\nCOPY --from=\"build stage\" --chown=1:1 -- --x y\n");
  CHECK(ast.children[1].flags == std::vector<std::string>{"--from=build stage", "--chown=1:1"});
  CHECK(ast.children[1].args == std::vector<std::string>{"--x", "y"});
}

TEST_CASE("ENV and LABEL keep quotes, legacy form takes the rest of the line", "[parser]") {
  Ast ast = MustParse("FROM a\nENV A=\"x y\" B=z\nENV C d e  f\nLABEL \"k\"=v\n");
  CHECK(ast.children[1].args == std::vector<std::string>{"A", "\"x y\"", "=", "B", "z", "="});
  CHECK(ast.children[2].args == std::vector<std::string>{"C", "d e  f", ""});
  CHECK(ast.children[3].args == std::vector<std::string>{"\"k\"", "v", "="});
  CHECK_THAT(ErrorOf("FROM a\nENV A=1 B\n"), Catch::Contains("can't find = in \"B\""));
}

TEST_CASE("heredocs: several per instruction, <<-, quoted delimiters, fd prefix", "[parser]") {
  Ast ast = MustParse(
      "FROM a\n"
      "COPY <<ONE <<\"TWO\" /dest/\n"
      "first $X\n"
      "ONE\n"
      "second $X\n"
      "TWO\n"
      "RUN <<-EOT bash\n"
      "\techo hi\n"
      "\tEOT\n"
      "RUN 3<<'E O' cat <&3\n"
      "x\n"
      "E O\n"
      "RUN echo \"<<NOT\"\n");
  REQUIRE(ast.children.size() == 5);
  const Node& copy = ast.children[1];
  REQUIRE(copy.heredocs.size() == 2);
  CHECK(copy.heredocs[0] == Heredoc{"ONE", 0, true, false, "first $X\n"});
  CHECK(copy.heredocs[1] == Heredoc{"TWO", 0, false, false, "second $X\n"});
  CHECK(copy.end_line == 6);
  const Node& run = ast.children[2];
  REQUIRE(run.heredocs.size() == 1);
  CHECK(run.heredocs[0].chomp);
  CHECK(run.heredocs[0].content == "\techo hi\n");
  CHECK(ChompHeredocContent(run.heredocs[0].content) == "echo hi\n");
  const Node& fd = ast.children[3];
  REQUIRE(fd.heredocs.size() == 1);
  CHECK(fd.heredocs[0].fd == 3);
  CHECK(fd.heredocs[0].name == "E O");
  CHECK_FALSE(fd.heredocs[0].expand);
  CHECK(ast.children[4].heredocs.empty());
}

TEST_CASE("heredocs only for RUN, COPY, ADD (and ONBUILD of them), not in exec form", "[parser]") {
  Ast ast = MustParse("FROM a\nUSER <<X\nX\nRUN [\"<<EOF\"]\nONBUILD RUN <<EOF\nbody\nEOF\n");
  REQUIRE(ast.children.size() == 5);
  CHECK(ast.children[1].heredocs.empty());  // USER: "X" is the next instruction
  CHECK(ast.children[2].value == "X");
  CHECK(ast.children[3].heredocs.empty());
  REQUIRE(ast.children[4].heredocs.size() == 1);
  CHECK(ast.children[4].heredocs[0].content == "body\n");
}

TEST_CASE("heredoc word helper recognises the operator forms", "[parser]") {
  for (const char* w :
       {"<<EOF", "<<'EOF'", "<<\"EOF\"", "<<-EOF", "<<-'EOF'", "<<EO\"F\"", "<< EOF"}) {
    Result<std::optional<Heredoc>> h = ParseHeredocWord(w);
    INFO(w);
    REQUIRE(h.ok());
    REQUIRE(h->has_value());
    CHECK((*h)->name == "EOF");
  }
  for (const char* w : {"", "EOF", "<<", "<<-", "<EOF", "<<<EOF", "<<EOF sh"}) {
    Result<std::optional<Heredoc>> h = ParseHeredocWord(w);
    INFO(w);
    REQUIRE(h.ok());
    CHECK_FALSE(h->has_value());
  }
  CHECK_FALSE(ParseHeredocWord("<<'EOF").ok());
}

TEST_CASE("an unterminated heredoc is an error at its operator", "[parser]") {
  std::string err = ErrorOf("FROM a\nRUN <<EOF\nno end\n", "df");
  CHECK_THAT(err, Catch::StartsWith("df:2:5: unterminated heredoc"));
}

TEST_CASE("ONBUILD wraps one instruction", "[parser]") {
  Ast ast = MustParse("FROM a\nONBUILD COPY --from=x . /\n");
  const Node& ob = ast.children[1];
  REQUIRE(ob.trigger.size() == 1);
  CHECK(ob.trigger[0].flags == std::vector<std::string>{"--from=x"});
  CHECK(ob.Dump() == "onbuild (copy [\"--from=x\"] \".\" \"/\")");
}

TEST_CASE("unknown instructions parse with one empty argument", "[parser]") {
  Ast ast = MustParse("FROM a\nFOO bar\n");
  CHECK(ast.Dump() == "(from \"a\")\n(foo \"\")\n");
}

TEST_CASE("errors name the file, line and column and quote the line with a caret", "[parser]") {
  std::string err = ErrorOf("FROM a\n\tENV  PATH\n", "ctx/Dockerfile");
  CHECK(err == "ctx/Dockerfile:2:7: ENV must have two arguments\n  \tENV  PATH\n  \t     ^");
  CHECK_THAT(ErrorOf("", "x"), Catch::StartsWith("x:1:1: file with no instructions"));
  CHECK_THAT(ErrorOf("# only\n# comments\n"), Catch::Contains("file with no instructions"));
}

TEST_CASE("physical lines over 65535 bytes are rejected like BuildKit's scanner", "[parser]") {
  std::string ok = "FROM a\nRUN " + std::string(65535 - 4, 'x') + "\n";
  CHECK(ParseText(ok).ok());
  std::string too_long = "FROM a\nRUN " + std::string(65536 - 4, 'x') + "\n";
  Result<Ast> r = ParseText(too_long);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.status().message(), Catch::Contains("greater than max allowed size"));
}

TEST_CASE("the dump quotes like Go's strconv.Quote", "[parser]") {
  Ast ast = MustParse("FROM a\nRUN [\"\\u0000\\t\\u00a0\\u2603\\\"\"]\nLABEL a=\xff\n");
  CHECK(ast.Dump() ==
        "(from \"a\")\n(run \"\\x00\\t\\u00a0\xE2\x98\x83\\\"\")\n(label \"a\" \"\xEF\xBF\xBD\" "
        "\"=\")\n");
}

}  // namespace
}  // namespace hoist::dockerfile
