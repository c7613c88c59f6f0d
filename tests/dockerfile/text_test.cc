// Go-compatible text primitives, the exec-form JSON reader and the
// diagnostic format.
#include "builder/dockerfile/text.h"

#include <catch2/catch.hpp>

#include "builder/dockerfile/json_array.h"
#include "builder/dockerfile/source.h"

namespace hoist::dockerfile {
namespace {

TEST_CASE("UTF-8 decoding rejects what Go rejects", "[text]") {
  CHECK(text::DecodeRune("\xE2\x98\x83", 0).value == 0x2603);
  CHECK(text::DecodeRune("\xC0\x80", 0).width == 1);                     // overlong
  CHECK(text::DecodeRune("\xED\xA0\x80", 0).value == text::kRuneError);  // surrogate
  CHECK(text::DecodeRune("\xF4\x90\x80\x80", 0).width == 1);             // beyond U+10FFFF
  CHECK(text::DecodeRune("\xE2\x98", 0).width == 1);                     // truncated
  CHECK(text::DecodeLastRune("a\xE2\x98\x83").value == 0x2603);
  CHECK(text::RuneCount("a\xE2\x98\x83\xFF") == 3);
}

TEST_CASE("Unicode classes and case as Go's unicode package", "[text]") {
  CHECK(text::IsSpace(0x85));
  CHECK(text::IsSpace(0x3000));
  CHECK_FALSE(text::IsSpace(0x200B));
  CHECK(text::IsLetter(0xD55C));  // 한
  CHECK(text::IsDigit(0x0663));   // ARABIC-INDIC DIGIT THREE
  CHECK_FALSE(text::IsPrint(0xA0));
  CHECK(text::ToLower("HEALTHCHEC\xE2\x84\xAA") == "healthcheck");  // KELVIN SIGN
  CHECK(text::ToLower("\xC4\xB0") == "i");
  CHECK(text::TrimSpace("\xC2\xA0 x\t\xE3\x80\x80") == "x");
}

TEST_CASE("Quote matches strconv.Quote", "[text]") {
  CHECK(text::Quote("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(text::Quote(std::string("\x00\x07\x7f", 3)) == "\"\\x00\\a\\x7f\"");
  CHECK(text::Quote("\xE2\x80\x8B\xF0\x9F\x98\x80\xFF") == "\"\\u200b\xF0\x9F\x98\x80\\xff\"");
}

TEST_CASE("Suggest finds a near option in the case style of the input", "[text]") {
  CHECK(text::Suggest("COPPY", {"COPY", "RUN"}, false) == "COPY");
  CHECK(text::Suggest("coppy", {"COPY", "RUN"}, false) == "copy");
  CHECK(text::Suggest("zzzzzz", {"COPY"}, false).empty());
  CHECK(text::Split("a::b", ':') == std::vector<std::string>{"a", "", "b"});
}

TEST_CASE("exec-form JSON follows encoding/json", "[text]") {
  std::vector<std::string> out;
  CHECK(ParseJsonStringArray(" [\"a\", \"\\ud83d\\ude00\", \"\\ud800x\"] ", &out) ==
        JsonArrayResult::kStrings);
  CHECK(out == std::vector<std::string>{"a", "\xF0\x9F\x98\x80", "\xEF\xBF\xBDx"});
  CHECK(ParseJsonStringArray("[\"\xFF\"]", &out) == JsonArrayResult::kStrings);
  CHECK(out[0] == "\xEF\xBF\xBD");
  CHECK(ParseJsonStringArray("[\"a\", {\"k\": [1, true, null]}]", &out) ==
        JsonArrayResult::kNotStrings);
  CHECK(ParseJsonStringArray("[\"a\",]", &out) == JsonArrayResult::kNotArray);
  CHECK(ParseJsonStringArray("[\"a\"] x", &out) == JsonArrayResult::kNotArray);
  CHECK(ParseJsonStringArray("[\"a\tb\"]", &out) == JsonArrayResult::kNotArray);
  CHECK(ParseJsonStringArray("[01]", &out) == JsonArrayResult::kNotArray);
  CHECK(ParseJsonStringArray(std::string(10000, '[') + std::string(10000, ']'), &out) ==
        JsonArrayResult::kNotStrings);
  CHECK(ParseJsonStringArray(std::string(10001, '[') + std::string(10001, ']'), &out) ==
        JsonArrayResult::kNotArray);
}

TEST_CASE("diagnostics quote the line and point at the column", "[text]") {
  Source src("df", "FROM a\n\tRUN  \xE2\x98\x83 x\n");
  CHECK(FormatDiagnostic(&src, {2, 7}, "boom") ==
        "df:2:7: boom\n  \tRUN  \xE2\x98\x83 x\n  \t     ^");
  CHECK(FormatDiagnostic(&src, {}, "whole file") == "df: whole file");
  Source long_line("df", std::string(500, 'x') + "Y" + std::string(500, 'x'));
  std::string d = FormatDiagnostic(&long_line, {1, 501}, "here");
  CHECK(d.find("...") != std::string::npos);
  CHECK(d.size() < 500);
  size_t caret_line = d.rfind('\n');
  size_t quoted_line = d.rfind('\n', caret_line - 1);
  CHECK(d[quoted_line + 1 + (d.size() - caret_line - 1) - 1] == 'Y');
  Status st = ErrorAt(&src, {1, 1}, "m");
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.detail() == "{\"column\":1,\"file\":\"df\",\"line\":1,\"message\":\"m\"}");
}

}  // namespace
}  // namespace hoist::dockerfile
