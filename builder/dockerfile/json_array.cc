#include "builder/dockerfile/json_array.h"

#include <cmath>
#include <cstdlib>

#include "builder/dockerfile/text.h"

namespace hoist::dockerfile {
namespace {

constexpr size_t kMaxDepth = 10000;  // encoding/json's maxNestingDepth

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  void SkipSpace() {
    while (i_ < s_.size() && IsJsonSpace(s_[i_])) ++i_;
  }
  bool AtEnd() const { return i_ >= s_.size(); }
  char Peek() const { return s_[i_]; }
  void Advance() { ++i_; }

  // Reads a string starting at '"'; decodes into *out when out != nullptr.
  bool String(std::string* out) {
    ++i_;  // opening quote
    while (i_ < s_.size()) {
      auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        char e = s_[i_++];
        char32_t r;
        switch (e) {
          case '"':
            r = '"';
            break;
          case '\\':
            r = '\\';
            break;
          case '/':
            r = '/';
            break;
          case 'b':
            r = '\b';
            break;
          case 'f':
            r = '\f';
            break;
          case 'n':
            r = '\n';
            break;
          case 'r':
            r = '\r';
            break;
          case 't':
            r = '\t';
            break;
          case 'u': {
            int u = Hex4();
            if (u < 0) return false;
            r = static_cast<char32_t>(u);
            if (r >= 0xD800 && r <= 0xDFFF) {
              // A high surrogate followed by an escaped low one is a pair;
              // anything else decodes to U+FFFD and is read on its own.
              char32_t combined = text::kRuneError;
              if (r < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' && s_[i_ + 1] == 'u') {
                size_t save = i_;
                i_ += 2;
                int lo = Hex4();
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                  combined = 0x10000 + ((r - 0xD800) << 10) + (static_cast<char32_t>(lo) - 0xDC00);
                } else {
                  i_ = save;
                }
              }
              r = combined;
            }
            break;
          }
          default:
            return false;
        }
        if (out != nullptr) text::AppendRune(out, r);
        continue;
      }
      text::Rune r = text::DecodeRune(s_, i_);
      if (out != nullptr) {
        if (r.value == text::kRuneError && r.width == 1) {
          text::AppendRune(out, text::kRuneError);
        } else {
          out->append(s_.substr(i_, r.width));
        }
      }
      i_ += r.width;
    }
    return false;
  }

  // Reads a number; *overflow is set when it does not fit a float64.
  bool Number(bool* overflow) {
    size_t start = i_;
    if (i_ < s_.size() && s_[i_] == '-') ++i_;
    if (i_ >= s_.size()) return false;
    if (s_[i_] == '0') {
      ++i_;
    } else if (s_[i_] >= '1' && s_[i_] <= '9') {
      while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
    } else {
      return false;
    }
    if (i_ < s_.size() && s_[i_] == '.') {
      ++i_;
      if (i_ >= s_.size() || !IsDigit(s_[i_])) return false;
      while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
    }
    if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) ++i_;
      if (i_ >= s_.size() || !IsDigit(s_[i_])) return false;
      while (i_ < s_.size() && IsDigit(s_[i_])) ++i_;
    }
    std::string token(s_.substr(start, i_ - start));
    if (std::isinf(std::strtod(token.c_str(), nullptr))) *overflow = true;
    return true;
  }

  bool Literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

 private:
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  int Hex4() {
    if (i_ + 4 > s_.size()) return -1;
    int v = 0;
    for (int k = 0; k < 4; ++k) {
      int h = HexValue(s_[i_ + k]);
      if (h < 0) return -1;
      v = v * 16 + h;
    }
    i_ += 4;
    return v;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

JsonArrayResult ParseJsonStringArray(std::string_view input, std::vector<std::string>* out) {
  out->clear();
  std::string_view s = text::TrimLeftSpace(input);
  if (s.empty() || s[0] != '[') return JsonArrayResult::kNotArray;

  Reader r(s);
  std::vector<char> stack;  // open containers: '[' or '{'
  bool all_strings = true;
  bool overflow = false;
  enum class Want { kValue, kValueOrClose, kKeyOrClose, kKey, kColon, kCommaOrClose };
  Want want = Want::kValue;
  bool done = false;

  while (!done) {
    r.SkipSpace();
    if (r.AtEnd()) return JsonArrayResult::kNotArray;
    char c = r.Peek();
    switch (want) {
      case Want::kValueOrClose:
        if (c == ']') {
          r.Advance();
          stack.pop_back();
          want = Want::kCommaOrClose;
          break;
        }
        [[fallthrough]];
      case Want::kValue: {
        bool top_level_element = stack.size() == 1 && stack.back() == '[';
        if (c == '[' || c == '{') {
          if (stack.size() + 1 > kMaxDepth) return JsonArrayResult::kNotArray;
          if (top_level_element) all_strings = false;
          stack.push_back(c);
          r.Advance();
          want = c == '[' ? Want::kValueOrClose : Want::kKeyOrClose;
          break;
        }
        if (c == '"') {
          std::string value;
          if (!r.String(top_level_element ? &value : nullptr)) return JsonArrayResult::kNotArray;
          if (top_level_element) out->push_back(std::move(value));
        } else if (c == '-' || (c >= '0' && c <= '9')) {
          if (!r.Number(&overflow)) return JsonArrayResult::kNotArray;
          if (top_level_element) all_strings = false;
        } else if (r.Literal("true") || r.Literal("false") || r.Literal("null")) {
          if (top_level_element) all_strings = false;
        } else {
          return JsonArrayResult::kNotArray;
        }
        want = Want::kCommaOrClose;
        break;
      }
      case Want::kKeyOrClose:
        if (c == '}') {
          r.Advance();
          stack.pop_back();
          want = Want::kCommaOrClose;
          break;
        }
        [[fallthrough]];
      case Want::kKey:
        if (c != '"' || !r.String(nullptr)) return JsonArrayResult::kNotArray;
        want = Want::kColon;
        break;
      case Want::kColon:
        if (c != ':') return JsonArrayResult::kNotArray;
        r.Advance();
        want = Want::kValue;
        break;
      case Want::kCommaOrClose: {
        char open = stack.back();
        if (c == ',') {
          r.Advance();
          want = open == '[' ? Want::kValue : Want::kKey;
        } else if ((open == '[' && c == ']') || (open == '{' && c == '}')) {
          r.Advance();
          stack.pop_back();
          if (stack.empty()) done = true;
        } else {
          return JsonArrayResult::kNotArray;
        }
        break;
      }
    }
    if (!done && stack.empty()) done = true;
  }
  r.SkipSpace();
  if (!r.AtEnd()) return JsonArrayResult::kNotArray;
  if (overflow) return JsonArrayResult::kNotArray;  // an UnmarshalTypeError in Go
  if (!all_strings) {
    out->clear();
    return JsonArrayResult::kNotStrings;
  }
  return JsonArrayResult::kStrings;
}

}  // namespace hoist::dockerfile
