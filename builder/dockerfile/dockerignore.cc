#include "builder/dockerfile/dockerignore.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "builder/dockerfile/text.h"

namespace hoist::dockerfile {

// One element of a compiled pattern (the regular expression BuildKit
// builds from it, as a token list).
struct DockerIgnore::Token {
  enum Kind : uint8_t {
    kLiteral,       // one rune
    kOneNotSlash,   // '?'   -> [^/]
    kStarNotSlash,  // '*'   -> [^/]*
    kAnyRun,        // '**' at the end -> .*
    kAnyDirs,       // '**/' elsewhere -> (.*/)?
    kClass,         // [...] with filepath.Match semantics
  } kind;
  char32_t rune = 0;
  bool negated = false;
  std::vector<std::pair<char32_t, char32_t>> ranges;

  static Token Of(Kind k, char32_t r = 0) {
    Token t;
    t.kind = k;
    t.rune = r;
    return t;
  }
};

struct DockerIgnore::Pattern {
  enum class Type { kExact, kPrefix, kSuffix, kRegexp } type = Type::kExact;
  std::string cleaned;
  bool exception = false;
  std::vector<Token> tokens;

  bool Match(std::string_view path) const;
};

namespace {

using Token = DockerIgnore::Token;

std::vector<char32_t> ToRunes(std::string_view s, bool skip_bom) {
  std::vector<char32_t> out;
  bool first = true;
  for (size_t i = 0; i < s.size();) {
    text::Rune r = text::DecodeRune(s, i);
    if (!(first && skip_bom && r.value == 0xFEFF)) out.push_back(r.value);
    first = false;
    i += r.width;
  }
  return out;
}

// filepath.Match's getEsc: one (possibly escaped) rune of a class.
bool ClassRune(std::string_view chunk, size_t* i, char32_t* r) {
  if (*i >= chunk.size() || chunk[*i] == '-' || chunk[*i] == ']') return false;
  if (chunk[*i] == '\\') {
    ++*i;
    if (*i >= chunk.size()) return false;
  }
  text::Rune d = text::DecodeRune(chunk, *i);
  if (d.value == text::kRuneError && d.width == 1) return false;
  *i += d.width;
  *r = d.value;
  return *i < chunk.size();
}

// Parses a class at chunk[*i] == '['. False when malformed.
bool ParseClass(std::string_view chunk, size_t* i, Token* t) {
  ++*i;
  t->kind = Token::kClass;
  if (*i < chunk.size() && chunk[*i] == '^') {
    t->negated = true;
    ++*i;
  }
  for (;;) {
    if (*i < chunk.size() && chunk[*i] == ']' && !t->ranges.empty()) {
      ++*i;
      return true;
    }
    char32_t lo, hi;
    if (!ClassRune(chunk, i, &lo)) return false;
    hi = lo;
    if (chunk[*i] == '-') {
      ++*i;
      if (!ClassRune(chunk, i, &hi)) return false;
    }
    t->ranges.emplace_back(lo, hi);
  }
}

// Whether `pattern` is well-formed for filepath.Match (the check
// patternmatcher.New makes): classes closed and non-empty, no trailing '\'.
bool ValidFilepathPattern(std::string_view p) {
  for (size_t i = 0; i < p.size();) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 >= p.size()) return false;
      i += 1 + text::DecodeRune(p, i + 1).width;
    } else if (c == '[') {
      Token t;
      if (!ParseClass(p, &i, &t)) return false;
    } else {
      i += text::DecodeRune(p, i).width;
    }
  }
  return true;
}

// Compiles a cleaned pattern the way patternmatcher's Pattern.compile does.
void CompilePattern(DockerIgnore::Pattern* p) {
  using Type = DockerIgnore::Pattern::Type;
  Type type = Type::kExact;
  const std::string& s = p->cleaned;
  size_t pos = (s.rfind("\xEF\xBB\xBF", 0) == 0) ? 3 : 0;  // text/scanner skips a BOM
  for (int iter = 0; pos < s.size(); ++iter) {
    text::Rune r = text::DecodeRune(s, pos);
    char32_t ch = r.value;
    pos += r.width;
    if (ch == '*') {
      if (pos < s.size() && s[pos] == '*') {
        ++pos;
        if (pos < s.size() && s[pos] == '/') ++pos;
        if (pos >= s.size()) {
          if (type == Type::kExact) {
            type = Type::kPrefix;
          } else {
            p->tokens.push_back(Token::Of(Token::kAnyRun));
            type = Type::kRegexp;
          }
        } else {
          p->tokens.push_back(Token::Of(Token::kAnyDirs));
          type = Type::kRegexp;
        }
        if (iter == 0) type = Type::kSuffix;
      } else {
        p->tokens.push_back(Token::Of(Token::kStarNotSlash));
        type = Type::kRegexp;
      }
    } else if (ch == '?') {
      p->tokens.push_back(Token::Of(Token::kOneNotSlash));
      type = Type::kRegexp;
    } else if (ch == '\\') {
      if (pos < s.size()) {
        text::Rune n = text::DecodeRune(s, pos);
        pos += n.width;
        p->tokens.push_back(Token::Of(Token::kLiteral, n.value));
        type = Type::kRegexp;
      } else {
        p->tokens.push_back(Token::Of(Token::kLiteral, '\\'));
      }
    } else if (ch == '[') {
      Token t;
      size_t at = pos - 1;
      if (ParseClass(s, &at, &t)) {
        pos = at;
        p->tokens.push_back(std::move(t));
      } else {
        p->tokens.push_back(Token::Of(Token::kLiteral, '['));
      }
      type = Type::kRegexp;
    } else if (ch == ']') {
      p->tokens.push_back(Token::Of(Token::kLiteral, ']'));
      type = Type::kRegexp;
    } else {
      p->tokens.push_back(Token::Of(Token::kLiteral, ch));
    }
  }
  p->type = type;
}

bool ClassMatches(const Token& t, char32_t c) {
  bool in = false;
  for (const auto& [lo, hi] : t.ranges) in = in || (lo <= c && c <= hi);
  return in != t.negated;
}

// Full match of the token list against `path` (an NFA simulation).
bool MatchTokens(const std::vector<Token>& tokens, std::string_view path) {
  std::vector<char32_t> in = ToRunes(path, false);
  const size_t m = tokens.size();
  // cur[i]: at token i; inside[i]: inside the "(.*" of a kAnyDirs at i.
  std::vector<char> cur(m + 1, 0), inside(m + 1, 0), next(m + 1, 0), next_inside(m + 1, 0);
  cur[0] = 1;
  auto closure = [&](std::vector<char>& c) {
    for (size_t i = 0; i < m; ++i) {
      if (!c[i]) continue;
      Token::Kind k = tokens[i].kind;
      if (k == Token::kStarNotSlash || k == Token::kAnyRun || k == Token::kAnyDirs) c[i + 1] = 1;
    }
  };
  closure(cur);
  for (char32_t ch : in) {
    std::fill(next.begin(), next.end(), 0);
    std::fill(next_inside.begin(), next_inside.end(), 0);
    for (size_t i = 0; i < m; ++i) {
      const Token& t = tokens[i];
      if (inside[i] && t.kind == Token::kAnyDirs) {
        if (ch != '\n') next_inside[i] = 1;
        if (ch == '/') next[i + 1] = 1;
      }
      if (!cur[i]) continue;
      switch (t.kind) {
        case Token::kLiteral:
          if (ch == t.rune) next[i + 1] = 1;
          break;
        case Token::kOneNotSlash:
          if (ch != '/') next[i + 1] = 1;
          break;
        case Token::kStarNotSlash:
          if (ch != '/') next[i] = 1;
          break;
        case Token::kAnyRun:
          if (ch != '\n') next[i] = 1;
          break;
        case Token::kAnyDirs:
          if (ch != '\n') next_inside[i] = 1;
          if (ch == '/') next[i + 1] = 1;
          break;
        case Token::kClass:
          if (ClassMatches(t, ch)) next[i + 1] = 1;
          break;
      }
    }
    closure(next);
    cur.swap(next);
    inside.swap(next_inside);
  }
  return cur[m] != 0;
}

bool HasSuffix(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// filepath.Dir for slash paths.
std::string DirOf(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  return CleanPath(path.substr(0, slash + 1));
}

std::string PatternWithoutTrailingGlob(const std::string& p) {
  std::string s = p;
  if (HasSuffix(s, "/**")) s.resize(s.size() - 3);
  if (HasSuffix(s, "/*")) s.resize(s.size() - 2);
  return s;
}

bool ReadFileIfExists(const std::string& path, std::string* out) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

}  // namespace

DockerIgnore::DockerIgnore() = default;
DockerIgnore::~DockerIgnore() = default;
DockerIgnore::DockerIgnore(const DockerIgnore&) = default;
DockerIgnore::DockerIgnore(DockerIgnore&&) noexcept = default;
DockerIgnore& DockerIgnore::operator=(const DockerIgnore&) = default;
DockerIgnore& DockerIgnore::operator=(DockerIgnore&&) noexcept = default;

std::string CleanPath(std::string_view path) {
  if (path.empty()) return ".";
  bool rooted = path[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view el = path.substr(i, j - i);
    i = j + 1;
    if (el.empty() || el == ".") continue;
    if (el == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!rooted) {
        parts.push_back(el);
      }
      continue;
    }
    parts.push_back(el);
  }
  std::string out = rooted ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out.append(parts[k]);
  }
  if (out.empty()) return ".";
  return out;
}

bool DockerIgnore::Pattern::Match(std::string_view path) const {
  switch (type) {
    case Type::kExact:
      return path == cleaned;
    case Type::kPrefix:
      return path.substr(0, cleaned.size() - 2) ==
             std::string_view(cleaned).substr(0, cleaned.size() - 2);
    case Type::kSuffix: {
      std::string_view suffix = std::string_view(cleaned).substr(2);
      if (HasSuffix(path, suffix)) return true;
      return !suffix.empty() && suffix[0] == '/' &&
             path == suffix.substr(1);  // "**/foo" matches "foo"
    }
    case Type::kRegexp:
      return MatchTokens(tokens, path);
  }
  return false;
}

Result<std::vector<std::string>> DockerIgnore::ReadPatterns(std::string_view text) {
  std::vector<std::string> out;
  bool first = true;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.size() > 65535) {
      return Status(Code::kInvalidArgument, "bufio.Scanner: token too long");
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first && line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
    first = false;
    if (!line.empty() && line[0] == '#') continue;
    std::string_view pattern = text::TrimSpace(line);
    if (pattern.empty()) continue;
    bool invert = pattern[0] == '!';
    if (invert) pattern = text::TrimSpace(pattern.substr(1));
    std::string p(pattern);
    if (!p.empty()) {
      p = CleanPath(p);
      if (p.size() > 1 && p[0] == '/') p.erase(0, 1);
    }
    out.push_back(invert ? "!" + p : p);
  }
  return out;
}

Result<DockerIgnore> DockerIgnore::Compile(const std::vector<std::string>& patterns) {
  DockerIgnore di;
  for (const std::string& raw : patterns) {
    std::string_view trimmed = text::TrimSpace(raw);
    if (trimmed.empty()) continue;
    std::string p = CleanPath(trimmed);
    Pattern pat;
    if (p[0] == '!') {
      if (p.size() == 1) return Status(Code::kInvalidArgument, "illegal exclusion pattern: \"!\"");
      pat.exception = true;
      p.erase(0, 1);
      di.exceptions_ = true;
    }
    if (!ValidFilepathPattern(p)) {
      return Status(Code::kInvalidArgument, "syntax error in pattern: " + text::Quote(raw));
    }
    pat.cleaned = p;
    CompilePattern(&pat);
    if (pat.exception) {
      std::string prefix = PatternWithoutTrailingGlob(p);
      if (prefix.find_first_of("*[]?^\\") != std::string::npos) di.only_prefix_exceptions_ = false;
    }
    di.patterns_.push_back(std::move(pat));
  }
  return di;
}

Result<DockerIgnore> DockerIgnore::Parse(std::string_view text) {
  Result<std::vector<std::string>> patterns = ReadPatterns(text);
  if (!patterns.ok()) return patterns.status();
  return Compile(*patterns);
}

bool DockerIgnore::Excluded(std::string_view file) const {
  bool matched = false;
  std::string parent = DirOf(file);
  std::vector<std::string> parent_dirs = text::Split(parent, '/');
  for (const Pattern& p : patterns_) {
    if (p.exception != matched) continue;  // only a later rule can change the answer
    bool match = p.Match(file);
    if (!match && parent != ".") {
      std::string prefix;
      for (size_t i = 0; i < parent_dirs.size() && !match; ++i) {
        prefix += (i ? "/" : "") + parent_dirs[i];
        match = p.Match(prefix);
      }
    }
    if (match) matched = !p.exception;
  }
  return matched;
}

bool DockerIgnore::ExcludedUsingParent(std::string_view file, const MatchInfo& parent,
                                       MatchInfo* info) const {
  const std::vector<bool>& pm = parent.parent_matched;
  bool use_parent = pm.size() == patterns_.size() && !pm.empty();
  bool matched = false;
  info->parent_matched.assign(patterns_.size(), false);
  for (size_t i = 0; i < patterns_.size(); ++i) {
    const Pattern& p = patterns_[i];
    bool match = use_parent && pm[i];
    if (!match) {
      if (p.exception != matched) continue;
      match = p.Match(file);
      if (!match && !use_parent) {
        std::string dir = DirOf(file);
        if (dir != ".") {
          std::string prefix;
          std::vector<std::string> dirs = text::Split(dir, '/');
          for (size_t k = 0; k < dirs.size() && !match; ++k) {
            prefix += (k ? "/" : "") + dirs[k];
            match = p.Match(prefix);
          }
        }
      }
    }
    info->parent_matched[i] = match;
    if (match) matched = !p.exception;
  }
  return matched;
}

bool DockerIgnore::CanSkipExcludedDir(std::string_view dir) const {
  if (!only_prefix_exceptions_) return false;
  if (!exceptions_) return true;
  std::string dir_slash = std::string(dir) + "/";
  for (const Pattern& p : patterns_) {
    if (!p.exception) continue;
    std::string pat = PatternWithoutTrailingGlob(p.cleaned) + "/";
    if (pat.rfind(dir_slash, 0) == 0) return false;
  }
  return true;
}

std::vector<std::string> DockerIgnore::patterns() const {
  std::vector<std::string> out;
  for (const Pattern& p : patterns_) out.push_back((p.exception ? "!" : "") + p.cleaned);
  return out;
}

Result<DockerIgnore> LoadDockerIgnore(const std::string& context_dir,
                                      const std::string& dockerfile_path, std::string* used) {
  std::string text;
  std::string candidates[] = {dockerfile_path + ".dockerignore", context_dir + "/.dockerignore"};
  for (const std::string& path : candidates) {
    if (path.empty() || path == ".dockerignore" || !ReadFileIfExists(path, &text)) continue;
    if (used != nullptr) *used = path;
    Result<DockerIgnore> di = DockerIgnore::Parse(text);
    if (!di.ok()) return Status(Code::kInvalidArgument, path + ": " + di.status().message());
    return di;
  }
  if (used != nullptr) used->clear();
  return DockerIgnore();
}

}  // namespace hoist::dockerfile
