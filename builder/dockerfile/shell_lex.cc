#include "builder/dockerfile/shell_lex.h"

#include <algorithm>
#include <limits>

#include "builder/dockerfile/text.h"

namespace hoist::dockerfile {

// ---- Env ------------------------------------------------------------------

Env Env::FromList(const std::vector<std::string>& entries) {
  Env env;
  for (const std::string& e : entries) {
    size_t eq = e.find('=');
    if (eq == std::string::npos) {
      env.Set(e, "");
    } else {
      env.Set(std::string_view(e).substr(0, eq), std::string_view(e).substr(eq + 1));
    }
  }
  return env;
}

std::optional<std::string_view> Env::Get(std::string_view key) const {
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  return std::string_view(order_[it->second].second);
}

void Env::Set(std::string_view key, std::string_view value) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    bytes_ = bytes_ - order_[it->second].second.size() + value.size();
    order_[it->second].second = std::string(value);
    return;
  }
  index_.emplace(std::string(key), order_.size());
  order_.emplace_back(std::string(key), std::string(value));
  bytes_ += key.size() + value.size();
}

void Env::Remove(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  bytes_ -= order_[it->second].first.size() + order_[it->second].second.size();
  order_.erase(order_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (size_t i = 0; i < order_.size(); ++i) index_.emplace(order_[i].first, i);
}

namespace {

constexpr char32_t kEof = std::numeric_limits<char32_t>::max();
constexpr size_t kNone = std::numeric_limits<size_t>::max();
// Limits BuildKit does not have (Go grows stacks and heaps until the
// machine gives up): a word may expand to at most 4 MiB ("ENV A=$A$A"
// repeated doubles it), and ${...} / quotes may nest 1000 deep.
constexpr size_t kMaxWordBytes = size_t{4} << 20;
constexpr int kMaxNesting = 1000;
// Pattern matching costs |value| x |pattern| steps; one word gets this
// many unless the caller shares a budget (LexOptions::pattern_budget).
constexpr size_t kMaxPatternSteps = size_t{16} << 20;

// The runes of a string as Go's text/scanner yields them: invalid bytes are
// U+FFFD, a byte-order mark at the very start is skipped.
struct Runes {
  std::u32string runes;
  std::vector<size_t> offsets;  // byte offset of each rune, plus the end

  explicit Runes(std::string_view s, bool skip_bom) {
    size_t i = 0;
    runes.reserve(s.size());
    offsets.reserve(s.size() + 1);
    bool first = true;
    while (i < s.size()) {
      text::Rune r = text::DecodeRune(s, i);
      if (!(first && skip_bom && r.value == 0xFEFF)) {
        runes.push_back(r.value);
        offsets.push_back(i);
      }
      first = false;
      i += r.width;
    }
    offsets.push_back(s.size());
  }
};

std::string RunesToString(std::u32string_view runes) {
  std::string out;
  out.reserve(runes.size());
  for (char32_t r : runes) text::AppendRune(&out, r);
  return out;
}

// ---- Shell patterns (${V#p}, ${V%p}, ${V/p/r}) ----------------------------

// One element of a shell pattern: a literal rune, '?' (one rune) or '*'
// (any run). As in BuildKit's translation to a Go regexp, '?' and '*' do
// not match a newline; bracket expressions are not supported.
struct PatternToken {
  enum Kind : uint8_t { kLiteral, kOne, kStar } kind;
  char32_t rune;
};

bool CompilePattern(std::string_view pattern, std::vector<PatternToken>* out, std::string* err) {
  Runes p(pattern, /*skip_bom=*/true);
  out->clear();
  const std::u32string& r = p.runes;
  for (size_t i = 0; i < r.size(); ++i) {
    char32_t tok = r[i];
    if (tok == '*') {
      out->push_back({PatternToken::kStar, 0});
    } else if (tok == '?') {
      out->push_back({PatternToken::kOne, 0});
    } else if (tok == '\\') {
      // "\}" and "\/" are escapes of the ${} syntax, not of the pattern.
      if (i + 1 < r.size() && (r[i + 1] == '}' || r[i + 1] == '/')) continue;
      if (i + 1 >= r.size()) {
        *err = "invalid escape '\\' at the end of the pattern";
        return false;
      }
      tok = r[++i];
      if (tok != '*' && tok != '?' && tok != '\\') {
        std::string c;
        text::AppendRune(&c, tok);
        *err = "invalid escape '\\" + c + "'";
        return false;
      }
      out->push_back({PatternToken::kLiteral, tok});
    } else {
      out->push_back({PatternToken::kLiteral, tok});
    }
  }
  return true;
}

struct Span {
  size_t begin, end;  // rune indexes
};

// Finds a match of `pat` in `v` starting at or after `from` (at `from` only
// when anchored): the leftmost start, then the longest (greedy) or shortest
// end — what Go's leftmost-first regexp returns for these patterns. Runs in
// O(|v| * |pat|).
// `*budget` is decreased by the work done; at zero the search stops (and
// the caller reports the word as too expensive).
std::optional<Span> FindPattern(const std::vector<PatternToken>& pat, std::u32string_view v,
                                size_t from, bool anchored, bool greedy, size_t* budget) {
  const size_t m = pat.size();
  std::vector<size_t> cur(m + 1, kNone), next(m + 1, kNone);
  std::optional<Span> best;
  for (size_t pos = from;; ++pos) {
    if (!best && (!anchored || pos == from)) cur[0] = std::min(cur[0], pos);
    for (size_t i = 0; i < m; ++i) {
      if (pat[i].kind == PatternToken::kStar && cur[i] != kNone)
        cur[i + 1] = std::min(cur[i + 1], cur[i]);
    }
    if (cur[m] != kNone && (!best || cur[m] <= best->begin)) {
      best = Span{cur[m], pos};
      if (!greedy) return best;
    }
    bool alive = false;
    for (size_t i = 0; i <= m; ++i) {
      if (best && cur[i] != kNone && cur[i] > best->begin) cur[i] = kNone;
      alive = alive || cur[i] != kNone;
    }
    if (pos >= v.size()) break;
    if (!alive && (best || anchored)) break;
    if (*budget < m + 1) {
      *budget = 0;
      return std::nullopt;
    }
    *budget -= m + 1;
    char32_t c = v[pos];
    std::fill(next.begin(), next.end(), kNone);
    for (size_t i = 0; i < m; ++i) {
      if (cur[i] == kNone) continue;
      switch (pat[i].kind) {
        case PatternToken::kLiteral:
          if (c == pat[i].rune) next[i + 1] = std::min(next[i + 1], cur[i]);
          break;
        case PatternToken::kOne:
          if (c != '\n') next[i + 1] = std::min(next[i + 1], cur[i]);
          break;
        case PatternToken::kStar:
          if (c != '\n') next[i] = std::min(next[i], cur[i]);
          break;
      }
    }
    cur.swap(next);
  }
  return best;
}

// Go's Regexp.ReplaceAllString template expansion for a pattern without
// groups: $0 / ${0} is the match, $$ is '$', other names are empty.
// Returns false when the expansion would exceed kMaxWordBytes.
bool ExpandTemplate(std::string_view tmpl, std::string_view match, std::string* result) {
  std::string& out = *result;
  while (!tmpl.empty()) {
    size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out.push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    std::string_view s = tmpl;
    bool brace = !s.empty() && s[0] == '{';
    if (brace) s.remove_prefix(1);
    size_t i = 0;
    while (i < s.size()) {
      text::Rune r = text::DecodeRune(s, i);
      if (!text::IsLetter(r.value) && !text::IsDigit(r.value) && r.value != '_') break;
      i += r.width;
    }
    if (i == 0 || (brace && (i >= s.size() || s[i] != '}'))) {
      out.push_back('$');  // malformed: the '$' is literal
      continue;
    }
    std::string_view name = s.substr(0, i);
    if (brace) ++i;
    if (name == "0") {
      if (out.size() + match.size() > kMaxWordBytes) return false;
      out.append(match);
    }
    tmpl = s.substr(i);
  }
  out.append(tmpl);
  return out.size() <= kMaxWordBytes;
}

std::string TrimPrefixPattern(const std::vector<PatternToken>& pat, std::string_view value,
                              bool greedy, size_t* budget) {
  Runes v(value, /*skip_bom=*/false);
  std::optional<Span> m = FindPattern(pat, v.runes, 0, /*anchored=*/true, greedy, budget);
  if (!m) return std::string(value);
  return std::string(value.substr(v.offsets[m->end]));
}

// "a\*c" -> "c\*a": reverses runes but keeps each escape before its rune.
std::string ReversePattern(std::string_view pattern) {
  Runes p(pattern, /*skip_bom=*/false);
  const std::u32string& r = p.runes;
  std::u32string out(r.size(), 0);
  const size_t n = r.size();
  for (size_t i = 0; i < n;) {
    size_t o = n - 1 - i;
    if (r[i] == '\\' && i != n - 1) {
      out[o - 1] = r[i];
      out[o] = r[i + 1];
      i += 2;
    } else {
      out[o] = r[i];
      ++i;
    }
  }
  return RunesToString(out);
}

std::string ReverseString(std::string_view s) {
  Runes r(s, /*skip_bom=*/false);
  std::reverse(r.runes.begin(), r.runes.end());
  return RunesToString(r.runes);
}

// ---- The word processor ---------------------------------------------------

// The words of a ProcessWords call. Disabled for ProcessWord, whose
// callers never look at them (variables can hold kilobytes).
struct Words {
  explicit Words(bool enabled) : enabled(enabled) {}

  bool enabled;
  std::string buf;
  std::vector<std::string> words;
  bool in_word = false;

  void AddChar(char32_t ch) {
    if (!enabled) return;
    if (text::IsSpace(ch)) {
      if (in_word && !buf.empty()) {
        words.push_back(std::move(buf));
        buf.clear();
        in_word = false;
      }
    } else {
      AddRawChar(ch);
    }
  }
  void AddRawChar(char32_t ch) {
    if (!enabled) return;
    text::AppendRune(&buf, ch);
    in_word = true;
  }
  void AddString(std::string_view s) {
    if (!enabled) return;
    for (size_t i = 0; i < s.size();) {
      text::Rune r = text::DecodeRune(s, i);
      AddChar(r.value);
      i += r.width;
    }
  }
  void AddRawString(std::string_view s) {
    if (!enabled) return;
    buf.append(s);
    in_word = true;
  }
  std::vector<std::string> Finish() {
    if (!buf.empty()) {
      words.push_back(std::move(buf));
      buf.clear();
      in_word = false;
    }
    return std::move(words);
  }
};

class Processor {
 public:
  Processor(std::string_view word, const EnvGetter& env, char32_t escape, const LexOptions& opt,
            bool capture)
      : in_(word, /*skip_bom=*/true),
        env_(env),
        escape_(escape),
        opt_(opt),
        capture_(capture),
        budget_(opt.pattern_budget != nullptr ? *opt.pattern_budget : own_budget_) {}

  bool Run(WordResult* out) {
    std::vector<std::string> words;
    if (!StopOn(kEof, opt_.raw_escapes, &out->word, &words)) return false;
    out->words = std::move(words);
    out->matched = std::move(matched_);
    out->unmatched = std::move(unmatched_);
    return true;
  }
  const std::string& error() const { return err_; }

 private:
  char32_t Peek() const { return pos_ < in_.runes.size() ? in_.runes[pos_] : kEof; }
  char32_t Next() { return pos_ < in_.runes.size() ? in_.runes[pos_++] : kEof; }
  bool Fail(std::string message) {
    err_ = std::move(message);
    return false;
  }
  static std::string RuneString(char32_t r) {
    std::string s;
    text::AppendRune(&s, r == kEof ? text::kRuneError : r);
    return s;
  }

  std::optional<std::string_view> GetEnv(const std::string& name) {
    std::optional<std::string_view> v = env_.Get(name);
    if (capture_) (v ? matched_ : unmatched_).insert(name);
    return v;
  }

  // Processes up to `stop` (consumed) or the end of input (kEof).
  bool StopOn(char32_t stop, bool raw_escapes, std::string* result,
              std::vector<std::string>* words_out) {
    if (++depth_ > kMaxNesting) return Fail("substitutions and quotes nested too deeply");
    bool saved = raw_escapes_;
    raw_escapes_ = raw_escapes;
    bool ok = StopOnInner(stop, result, words_out);
    raw_escapes_ = saved;
    --depth_;
    return ok;
  }
  // StopOn for the parts of ${...}: running out of input is `eof_error`.
  bool Part(char32_t stop, bool raw_escapes, std::string* out, const char* eof_error) {
    std::vector<std::string> ignored;
    if (StopOn(stop, raw_escapes, out, &ignored)) return true;
    if (Peek() == kEof) return Fail(eof_error);
    return false;
  }
  bool TooExpensive() {
    return Fail("pattern substitution too expensive (value or pattern too long)");
  }
  bool TooLarge() {
    return Fail("the expanded word is larger than " + std::to_string(kMaxWordBytes >> 20) + " MiB");
  }

  bool StopOnInner(char32_t stop, std::string* result, std::vector<std::string>* words_out) {
    Words words(!capture_);
    while (Peek() != kEof) {
      char32_t ch = Peek();
      if (stop != kEof && ch == stop) {
        Next();
        *words_out = words.Finish();
        return true;
      }
      bool quote = !opt_.skip_process_quotes && (ch == '\'' || ch == '"');
      if (ch == '$' || ch == '<' || quote) {
        std::string tmp;
        bool ok = ch == '$'    ? Dollar(&tmp)
                  : ch == '<'  ? PossibleHeredoc(&tmp)
                  : ch == '\'' ? SingleQuote(&tmp)
                               : DoubleQuote(&tmp);
        if (!ok) return false;
        if (result->size() + tmp.size() > kMaxWordBytes) return TooLarge();
        result->append(tmp);
        if (ch == '$') {
          words.AddString(tmp);
        } else {
          words.AddRawString(tmp);
        }
        continue;
      }
      ch = Next();
      if (ch == escape_) {
        if (raw_escapes_) {
          words.AddRawChar(ch);
          text::AppendRune(result, ch);
        }
        ch = Next();
        if (ch == kEof) break;  // a trailing escape is dropped
        words.AddRawChar(ch);
      } else {
        words.AddChar(ch);
      }
      text::AppendRune(result, ch);
    }
    if (stop != kEof) {
      return Fail("unexpected end of statement while looking for matching " + RuneString(stop));
    }
    *words_out = words.Finish();
    return true;
  }

  bool SingleQuote(std::string* out) {
    char32_t ch = Next();
    if (opt_.raw_quotes) text::AppendRune(out, ch);
    for (;;) {
      ch = Next();
      if (ch == kEof)
        return Fail("unexpected end of statement while looking for matching single-quote");
      if (ch == '\'') {
        if (opt_.raw_quotes) text::AppendRune(out, ch);
        return true;
      }
      text::AppendRune(out, ch);
    }
  }

  bool DoubleQuote(std::string* out) {
    char32_t ch = Next();
    if (opt_.raw_quotes) text::AppendRune(out, ch);
    for (;;) {
      char32_t p = Peek();
      if (p == kEof)
        return Fail("unexpected end of statement while looking for matching double-quote");
      if (p == '"') {
        ch = Next();
        if (opt_.raw_quotes) text::AppendRune(out, ch);
        return true;
      }
      if (p == '$') {
        std::string value;
        if (!Dollar(&value)) return false;
        if (out->size() + value.size() > kMaxWordBytes) return TooLarge();
        out->append(value);
        continue;
      }
      ch = Next();
      if (ch == escape_) {
        if (raw_escapes_) text::AppendRune(out, ch);
        char32_t q = Peek();
        if (q == kEof) continue;  // reported as an unterminated quote
        // Only ", $ and the escape itself are escapable inside double quotes.
        if (q == '"' || q == '$' || q == escape_) ch = Next();
      }
      text::AppendRune(out, ch);
    }
  }

  bool PossibleHeredoc(std::string* out) {
    Next();
    if (Peek() != '<') {
      *out = "<";
      return true;
    }
    Next();
    *out = "<<";
    while (Peek() == '\t' || Peek() == '\r' || Peek() == ' ') text::AppendRune(out, Next());
    return true;
  }

  static bool IsSpecialParam(char32_t c) {
    switch (c) {
      case '@':
      case '*':
      case '#':
      case '?':
      case '-':
      case '$':
      case '!':
      case '0':
        return true;
      default:
        return false;
    }
  }

  // A variable name: letters, digits and '_'; a run of digits (positional)
  // or one special parameter character.
  std::string Name() {
    std::string name;
    while (Peek() != kEof) {
      char32_t ch = Peek();
      if (name.empty() && text::IsDigit(ch)) {
        while (Peek() != kEof && text::IsDigit(Peek())) text::AppendRune(&name, Next());
        return name;
      }
      if (name.empty() && IsSpecialParam(ch)) {
        text::AppendRune(&name, Next());
        return name;
      }
      if (!text::IsLetter(ch) && !text::IsDigit(ch) && ch != '_') break;
      text::AppendRune(&name, Next());
    }
    return name;
  }

  bool Dollar(std::string* out) {
    Next();  // '$'
    if (Peek() != '{') {
      std::string name = Name();
      if (name.empty()) {
        *out = "$";
        return true;
      }
      std::optional<std::string_view> v = GetEnv(name);
      if (!v && opt_.skip_unset_env) {
        *out = "$" + name;
        return true;
      }
      *out = v ? std::string(*v) : std::string();
      return true;
    }
    Next();  // '{'
    char32_t p = Peek();
    if (p == kEof) return Fail("syntax error: missing '}'");
    if (p == '{' || p == '}' || p == ':') return Fail("syntax error: bad substitution");
    std::string name = Name();
    char32_t ch = Next();
    std::string chs = RuneString(ch);
    bool null_is_unset = false;
    switch (ch) {
      case '}': {
        std::optional<std::string_view> v = GetEnv(name);
        if (!v && opt_.skip_unset_env) {
          *out = "${" + name + "}";
          return true;
        }
        *out = v ? std::string(*v) : std::string();
        return true;
      }
      case ':':
        null_is_unset = true;
        ch = Next();
        chs += RuneString(ch);
        return Modifier(name, ch, chs, null_is_unset, out);
      case '+':
      case '-':
      case '?':
      case '#':
      case '%':
        return Modifier(name, ch, chs, null_is_unset, out);
      case '/':
        return Replace(name, out);
      default:
        return Fail("unsupported modifier (" + chs + ") in substitution");
    }
  }

  bool Modifier(const std::string& name, char32_t ch, const std::string& chs, bool null_is_unset,
                std::string* out) {
    bool raw = ch == '#' || ch == '%';
    if (null_is_unset && raw) return Fail("unsupported modifier (" + chs + ") in substitution");
    std::string word;
    if (!Part('}', raw, &word, "syntax error: missing '}'")) return false;
    std::optional<std::string_view> v = GetEnv(name);
    if (opt_.skip_unset_env && !v) {
      *out = "${" + name + chs + word + "}";
      return true;
    }
    bool set = v.has_value();
    std::string value = v ? std::string(*v) : std::string();
    switch (ch) {
      case '-':
        *out = (!set || (null_is_unset && value.empty())) ? word : value;
        return true;
      case '+':
        *out = (!set || (null_is_unset && value.empty())) ? std::string() : word;
        return true;
      case '?':
        if (!set) return Fail(name + ": " + (word.empty() ? "is not allowed to be unset" : word));
        if (null_is_unset && value.empty()) {
          return Fail(name + ": " + (word.empty() ? "is not allowed to be empty" : word));
        }
        *out = value;
        return true;
      case '%':
      case '#': {
        bool greedy =
            !word.empty() && static_cast<char32_t>(static_cast<unsigned char>(word[0])) == ch;
        if (greedy) word.erase(0, 1);
        std::vector<PatternToken> pat;
        std::string err;
        if (ch == '%') {
          std::string reversed = ReversePattern(word);
          if (!CompilePattern(reversed, &pat, &err)) {
            return Fail("invalid pattern (" + reversed + ") in substitution: " + err);
          }
          *out = ReverseString(TrimPrefixPattern(pat, ReverseString(value), greedy, &budget_));
        } else {
          if (!CompilePattern(word, &pat, &err)) {
            return Fail("invalid pattern (" + word + ") in substitution: " + err);
          }
          *out = TrimPrefixPattern(pat, value, greedy, &budget_);
        }
        if (budget_ == 0) return TooExpensive();
        return true;
      }
      default:
        return Fail("unsupported modifier (" + chs + ") in substitution");
    }
  }

  bool Replace(const std::string& name, std::string* out) {
    bool replace_all = Peek() == '/';
    if (replace_all) Next();
    std::string pattern, replacement;
    if (!Part('/', true, &pattern, "syntax error: missing '/' in ${}")) return false;
    if (!Part('}', true, &replacement, "syntax error: missing '}'")) return false;
    std::optional<std::string_view> v = GetEnv(name);
    if (opt_.skip_unset_env && !v) {
      *out = "${" + name + "/" + pattern + "/" + replacement + "}";
      return true;
    }
    std::string value = v ? std::string(*v) : std::string();
    std::vector<PatternToken> pat;
    std::string err;
    if (!CompilePattern(pattern, &pat, &err)) {
      return Fail("invalid pattern (" + pattern + ") in substitution: " + err);
    }
    Runes r(value, /*skip_bom=*/false);
    auto bytes = [&](size_t rune_index) { return r.offsets[rune_index]; };
    if (!replace_all) {
      std::optional<Span> m =
          FindPattern(pat, r.runes, 0, /*anchored=*/false, /*greedy=*/true, &budget_);
      if (budget_ == 0) return TooExpensive();
      if (m) value = value.substr(0, bytes(m->begin)) + replacement + value.substr(bytes(m->end));
      *out = value;
      return true;
    }
    // Regexp.ReplaceAllString: successive non-overlapping matches; an empty
    // match right after a previous match is not replaced.
    std::string result;
    size_t n = r.runes.size();
    size_t search = 0, last_end = 0;
    while (search <= n) {
      std::optional<Span> m =
          FindPattern(pat, r.runes, search, /*anchored=*/false, /*greedy=*/true, &budget_);
      if (budget_ == 0) return TooExpensive();
      if (!m) break;
      result.append(value, bytes(last_end), bytes(m->begin) - bytes(last_end));
      if (m->end > last_end || m->begin == 0) {
        std::string_view match =
            std::string_view(value).substr(bytes(m->begin), bytes(m->end) - bytes(m->begin));
        if (!ExpandTemplate(replacement, match, &result)) return TooLarge();
      }
      last_end = m->end;
      // Always advance by at least one rune (past the end of input too).
      search = std::max(search + 1, m->end);
    }
    result.append(value, bytes(last_end), std::string::npos);
    *out = result;
    return true;
  }

  Runes in_;
  size_t pos_ = 0;
  const EnvGetter& env_;
  char32_t escape_;
  const LexOptions& opt_;
  bool capture_;
  bool raw_escapes_ = false;
  int depth_ = 0;
  size_t own_budget_ = kMaxPatternSteps;
  size_t& budget_;
  std::set<std::string> matched_, unmatched_;
  std::string err_;
};

}  // namespace

ShellLex::ShellLex(char escape, LexOptions options)
    : escape_(static_cast<unsigned char>(escape)), options_(options) {}

Result<WordResult> ShellLex::Process(std::string_view word, const EnvGetter& env,
                                     bool capture) const {
  Processor p(word, env, escape_, options_, capture);
  WordResult out;
  if (!p.Run(&out)) {
    std::string shown =
        word.size() > 200 ? text::Quote(word.substr(0, 200)) + "..." : text::Quote(word);
    return Status(Code::kInvalidArgument, "failed to process " + shown + ": " + p.error());
  }
  return out;
}

Result<std::string> ShellLex::ProcessWord(std::string_view word, const EnvGetter& env) const {
  Result<WordResult> r = Process(word, env, true);
  if (!r.ok()) return r.status();
  return std::move(r->word);
}

Result<WordResult> ShellLex::ProcessWordWithMatches(std::string_view word,
                                                    const EnvGetter& env) const {
  return Process(word, env, true);
}

Result<std::vector<std::string>> ShellLex::ProcessWords(std::string_view word,
                                                        const EnvGetter& env) const {
  Result<WordResult> r = Process(word, env, false);
  if (!r.ok()) return r.status();
  return std::move(r->words);
}

}  // namespace hoist::dockerfile
