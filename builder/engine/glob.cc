#include "builder/engine/glob.h"

namespace hoist::engine {
namespace {

bool IsBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// Rewrites a filepath.Match element into the ignore-file grammar with the
// same meaning: runs of unescaped '*' outside classes become one '*' (the
// ignore grammar gives "**" a meaning across directories); a leading '!'
// and leading or trailing blanks, which the ignore grammar strips, become
// one-character classes.
std::string ToIgnorePattern(std::string_view e) {
  std::string out;
  size_t end = e.size();
  while (end > 0 && IsBlank(e[end - 1])) --end;
  bool leading = true;
  bool star = false;  // the last thing written was an unescaped '*'
  for (size_t i = 0; i < e.size(); ++i) {
    char c = e[i];
    bool was_star = star;
    star = false;
    if ((leading && (IsBlank(c) || c == '!')) || i >= end) {
      out += '[';
      out += c;
      out += ']';
      continue;
    }
    leading = false;
    if (c == '\\' && i + 1 < e.size()) {
      out += c;
      out += e[++i];
    } else if (c == '[') {
      size_t j = i + 1;
      while (j < e.size() && e[j] != ']') j += (e[j] == '\\' && j + 1 < e.size()) ? 2 : 1;
      out.append(e.substr(i, j + 1 - i));
      i = j;
    } else if (c == '*') {
      star = true;
      if (!was_star) out += c;
    } else {
      out += c;
    }
  }
  return out;
}

std::string Unescape(std::string_view e) {
  std::string out;
  for (size_t i = 0; i < e.size(); ++i) {
    if (e[i] == '\\' && i + 1 < e.size()) ++i;
    out += e[i];
  }
  return out;
}

}  // namespace

bool HasWildcards(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\') {
      ++i;
    } else if (c == '*' || c == '?' || c == '[') {
      return true;
    }
  }
  return false;
}

Result<ElementPattern> ElementPattern::Compile(std::string_view element) {
  ElementPattern p;
  p.literal_ = !HasWildcards(element);
  p.text_ = Unescape(element);
  Result<dockerfile::DockerIgnore> m =
      dockerfile::DockerIgnore::Compile({ToIgnorePattern(element)});
  if (!m.ok()) {
    return Status(Code::kInvalidArgument,
                  "bad wildcard pattern \"" + std::string(element) + "\": " + m.status().message());
  }
  p.matcher_ = std::move(*m);
  return p;
}

}  // namespace hoist::engine
