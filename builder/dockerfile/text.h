// Text primitives with the exact semantics of the Go standard library calls
// BuildKit's Dockerfile frontend makes (unicode/utf8, unicode, strings,
// strconv.Quote). Agreement with BuildKit depends on them: which bytes are
// whitespace, what a letter is, how an invalid UTF-8 byte is treated, how
// the AST dump quotes a string.
//
// All functions are pure and safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hoist::dockerfile::text {

inline constexpr char32_t kRuneError = 0xFFFD;

// One decoded rune and its length in bytes.
struct Rune {
  char32_t value;
  size_t width;
};

// Decodes the rune starting at s[i] like Go's utf8.DecodeRuneInString: an
// invalid or truncated sequence yields {kRuneError, 1}. REQUIRES: i < s.size().
Rune DecodeRune(std::string_view s, size_t i);
// Decodes the last rune of s like utf8.DecodeLastRuneInString. REQUIRES: !s.empty().
Rune DecodeLastRune(std::string_view s);

// Appends the UTF-8 encoding of r (Go's WriteRune: surrogates and values
// beyond U+10FFFF are written as U+FFFD).
void AppendRune(std::string* out, char32_t r);

// unicode.IsSpace / IsLetter / IsDigit / IsPrint and the simple lower-case
// mapping of unicode.ToLower.
bool IsSpace(char32_t r);
bool IsLetter(char32_t r);
bool IsDigit(char32_t r);
bool IsPrint(char32_t r);
char32_t ToLower(char32_t r);

// strings.ToLower: ASCII strings are lowered byte-wise; otherwise every
// rune is mapped and invalid bytes become U+FFFD.
std::string ToLower(std::string_view s);
// strings.ToUpper for ASCII letters only (used on instruction keywords).
std::string AsciiToUpper(std::string_view s);
// strings.EqualFold for ASCII (keywords such as "AS" and stage names).
bool AsciiEqualFold(std::string_view a, std::string_view b);

// strings.TrimSpace, strings.TrimLeftFunc(unicode.IsSpace) and
// strings.TrimRightFunc(unicode.IsSpace).
std::string_view TrimSpace(std::string_view s);
std::string_view TrimLeftSpace(std::string_view s);
std::string_view TrimRightSpace(std::string_view s);

// strconv.Quote: a double-quoted Go string literal.
std::string Quote(std::string_view s);

// strings.Split(s, sep) for one separator byte: n separators give n+1 parts.
std::vector<std::string> Split(std::string_view s, char sep);

// Length of s in runes (invalid bytes count one each).
size_t RuneCount(std::string_view s);

// BuildKit's util/suggest: the option closest to `value` within an edit
// distance of 2 ("" when none, or when `value` is itself an option). A
// case-insensitive match is returned in the case style of `value`.
std::string Suggest(std::string_view value, const std::vector<std::string>& options,
                    bool case_sensitive);

}  // namespace hoist::dockerfile::text
