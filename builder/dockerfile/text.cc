#include "builder/dockerfile/text.h"

#include <algorithm>
#include <cstdint>

namespace hoist::dockerfile::text {
namespace {

struct RuneRange {
  char32_t lo, hi;
};
struct RuneMap {
  char32_t from, to;
};

#include "builder/dockerfile/unicode_tables.inc"

template <size_t N>
bool InRanges(const RuneRange (&table)[N], char32_t r) {
  const RuneRange* end = table + N;
  const RuneRange* it =
      std::upper_bound(table, end, r, [](char32_t v, const RuneRange& rr) { return v < rr.lo; });
  if (it == table) return false;
  --it;
  return r <= it->hi;
}

bool IsContinuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

}  // namespace

Rune DecodeRune(std::string_view s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  size_t n = s.size() - i;
  unsigned char c0 = p[0];
  if (c0 < 0x80) return {c0, 1};
  // Second-byte bounds per lead byte, as in the Go decoder's accept ranges
  // (rejects overlong forms, surrogates and values beyond U+10FFFF).
  unsigned char lo = 0x80, hi = 0xBF;
  size_t need;
  char32_t value;
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    need = 2;
    value = c0 & 0x1F;
  } else if (c0 >= 0xE0 && c0 <= 0xEF) {
    need = 3;
    value = c0 & 0x0F;
    if (c0 == 0xE0) lo = 0xA0;
    if (c0 == 0xED) hi = 0x9F;
  } else if (c0 >= 0xF0 && c0 <= 0xF4) {
    need = 4;
    value = c0 & 0x07;
    if (c0 == 0xF0) lo = 0x90;
    if (c0 == 0xF4) hi = 0x8F;
  } else {
    return {kRuneError, 1};
  }
  if (n < need) return {kRuneError, 1};
  if (p[1] < lo || p[1] > hi) return {kRuneError, 1};
  value = (value << 6) | (p[1] & 0x3F);
  for (size_t k = 2; k < need; ++k) {
    if (!IsContinuation(p[k])) return {kRuneError, 1};
    value = (value << 6) | (p[k] & 0x3F);
  }
  return {value, need};
}

Rune DecodeLastRune(std::string_view s) {
  size_t end = s.size();
  auto c = static_cast<unsigned char>(s[end - 1]);
  if (c < 0x80) return {c, 1};
  size_t lim = end >= 4 ? end - 4 : 0;
  size_t start = end - 1;
  while (start > lim && IsContinuation(static_cast<unsigned char>(s[start]))) --start;
  Rune r = DecodeRune(s, start);
  if (start + r.width != end) return {kRuneError, 1};
  return r;
}

void AppendRune(std::string* out, char32_t r) {
  if ((r >= 0xD800 && r <= 0xDFFF) || r > 0x10FFFF) r = kRuneError;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

bool IsSpace(char32_t r) {
  if (r <= 0xFF) {
    return r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 || r == 0xA0;
  }
  // The White_Space property outside Latin-1.
  return r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 || r == 0x202F ||
         r == 0x205F || r == 0x3000;
}

bool IsLetter(char32_t r) {
  if (r < 0x80) return (r | 0x20) >= 'a' && (r | 0x20) <= 'z';
  return InRanges(kLetter, r);
}

bool IsDigit(char32_t r) {
  if (r < 0x80) return r >= '0' && r <= '9';
  return InRanges(kDigit, r);
}

bool IsPrint(char32_t r) {
  if (r < 0x80) return r >= 0x20 && r < 0x7F;
  return InRanges(kPrint, r);
}

char32_t ToLower(char32_t r) {
  if (r < 0x80) return (r >= 'A' && r <= 'Z') ? r + 32 : r;
  const RuneMap* end = kToLower + std::size(kToLower);
  const RuneMap* it =
      std::lower_bound(kToLower, end, r, [](const RuneMap& m, char32_t v) { return m.from < v; });
  return (it != end && it->from == r) ? it->to : r;
}

std::string ToLower(std::string_view s) {
  bool ascii = std::all_of(s.begin(), s.end(), [](char c) { return (c & 0x80) == 0; });
  std::string out;
  out.reserve(s.size());
  if (ascii) {
    for (char c : s) out.push_back(static_cast<char>(ToLower(static_cast<char32_t>(c))));
    return out;
  }
  for (size_t i = 0; i < s.size();) {
    Rune r = DecodeRune(s, i);
    AppendRune(&out, ToLower(r.value));
    i += r.width;
  }
  return out;
}

std::string AsciiToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return out;
}

bool AsciiEqualFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

std::string_view TrimLeftSpace(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    Rune r = DecodeRune(s, i);
    if (!IsSpace(r.value)) break;
    i += r.width;
  }
  return s.substr(i);
}

std::string_view TrimRightSpace(std::string_view s) {
  while (!s.empty()) {
    Rune r = DecodeLastRune(s);
    if (!IsSpace(r.value)) break;
    s.remove_suffix(r.width);
  }
  return s;
}

std::string_view TrimSpace(std::string_view s) {
  return TrimRightSpace(TrimLeftSpace(s));
}

std::string Quote(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    Rune r = DecodeRune(s, i);
    if (r.width == 1 && r.value == kRuneError) {
      auto b = static_cast<unsigned char>(s[i]);
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
      i += 1;
      continue;
    }
    char32_t c = r.value;
    i += r.width;
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (IsPrint(c)) {
      AppendRune(&out, c);
    } else {
      switch (c) {
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default: {
          int digits;
          if (c < ' ' || c == 0x7F) {
            out += "\\x";
            digits = 2;
          } else if (c < 0x10000) {
            out += "\\u";
            digits = 4;
          } else {
            out += "\\U";
            digits = 8;
          }
          for (int d = digits - 1; d >= 0; --d) out.push_back(kHex[(c >> (4 * d)) & 0xF]);
        }
      }
    }
  }
  out.push_back('"');
  return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  for (;;) {
    size_t p = s.find(sep);
    out.emplace_back(s.substr(0, p));
    if (p == std::string_view::npos) return out;
    s.remove_prefix(p + 1);
  }
}

size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += DecodeRune(s, i).width) ++n;
  return n;
}

namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    prev.swap(cur);
  }
  return prev[b.size()];
}

}  // namespace

std::string Suggest(std::string_view value, const std::vector<std::string>& options,
                    bool case_sensitive) {
  std::string val = case_sensitive ? std::string(value) : ToLower(value);
  std::string match;
  size_t min_dist = 3;
  for (const std::string& o : options) {
    std::string opt = case_sensitive ? o : ToLower(o);
    if (val == opt) return "";
    size_t d = EditDistance(val, opt);
    if (d < min_dist) {
      min_dist = d;
      match = opt;
      if (!case_sensitive) {
        if (value == ToLower(value)) {
          match = ToLower(opt);
        } else if (value == AsciiToUpper(value)) {
          match = AsciiToUpper(opt);
        }
      }
    }
  }
  return match;
}

}  // namespace hoist::dockerfile::text
