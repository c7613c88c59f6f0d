#include "builder/dockerfile/parser.h"

#include <limits>
#include <set>

#include "builder/dockerfile/instructions.h"
#include "builder/dockerfile/json_array.h"
#include "builder/dockerfile/shell_lex.h"
#include "builder/dockerfile/text.h"

namespace hoist::dockerfile {
namespace {

// bufio.Scanner's default token limit, which BuildKit's parser inherits.
constexpr size_t kMaxLineBytes = 65535;
// ONBUILD ONBUILD ... nests nodes (and is rejected one layer up anyway);
// the cap keeps a pathological line from exhausting the stack. BuildKit's
// parser has no such limit (Go stacks grow).
constexpr int kMaxOnbuildNesting = 64;

// The whitespace of BuildKit's reWhitespace, `[\t\v\f\r ]+`.
bool IsSplitSpace(char c) {
  return c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == ' ';
}
// RE2's \s: [\t\n\f\r ].
bool IsRegexSpace(char c) {
  return c == '\t' || c == '\n' || c == '\f' || c == '\r' || c == ' ';
}
// unicode.IsSpace applied to a single byte taken as a Latin-1 rune, as the
// byte-wise loops of BuildKit's flag and HEALTHCHECK splitters do.
bool IsSpaceByte(char c) {
  return text::IsSpace(static_cast<unsigned char>(c));
}
// strings.Builder.WriteRune(rune(byte)): a byte >= 0x80 becomes the UTF-8
// encoding of the Latin-1 character with that value.
void AppendLatin1(std::string* out, char c) {
  text::AppendRune(out, static_cast<unsigned char>(c));
}

std::string_view TrimNewline(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool IsComment(std::string_view line) {
  std::string_view t = text::TrimLeftSpace(line);
  return !t.empty() && t[0] == '#';
}

bool IsEmptyContinuationLine(std::string_view line) {
  return text::TrimLeftSpace(TrimNewline(line)).empty();
}

// regexp.Split with BuildKit's reWhitespace; n < 0 means no limit.
std::vector<std::string_view> SplitWhitespace(std::string_view s, int n) {
  if (s.empty()) return {std::string_view()};
  std::vector<std::string_view> out;
  size_t beg = 0, end = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (!IsSplitSpace(s[i])) {
      ++i;
      continue;
    }
    size_t a = i;
    while (i < s.size() && IsSplitSpace(s[i])) ++i;
    size_t b = i;
    if (n > 0 && out.size() == static_cast<size_t>(n - 1)) break;
    end = a;
    if (b != 0) out.push_back(s.substr(beg, end - beg));
    beg = b;
  }
  if (end != s.size()) out.push_back(s.substr(beg));
  return out;
}

// Reads lines as bufio.Scanner with BuildKit's scanLines: each line keeps
// its '\n'; a line longer than the limit stops the scan with an error.
class LineScanner {
 public:
  explicit LineScanner(std::string_view text) : text_(text) {}

  bool Scan() {
    if (too_long_ || pos_ >= text_.size()) return false;
    size_t nl = text_.find('\n', pos_);
    size_t content_end = nl == std::string_view::npos ? text_.size() : nl;
    if (content_end - pos_ > kMaxLineBytes) {
      too_long_ = true;
      return false;
    }
    size_t end = nl == std::string_view::npos ? text_.size() : nl + 1;
    line_ = text_.substr(pos_, end - pos_);
    pos_ = end;
    return true;
  }
  std::string_view line() const { return line_; }
  bool too_long() const { return too_long_; }

 private:
  std::string_view text_;
  std::string_view line_;
  size_t pos_ = 0;
  bool too_long_ = false;
};

// The parser directives at the head of the file. Once a line is not a
// directive, no later line is one.
class DirectiveParser {
 public:
  // nullopt when `line` is not a directive; an error for a repeated one.
  Result<std::optional<Directive>> ParseLine(std::string_view line) {
    if (done_) return std::optional<Directive>();
    if (line.empty() || line[0] != '#') {
      done_ = true;
      return std::optional<Directive>();
    }
    // ^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$
    std::string_view rest = text::TrimLeftSpace(line.substr(1));
    auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
    size_t i = 0;
    if (rest.empty() || !alpha(rest[0])) return NotADirective();
    while (i < rest.size() && (alpha(rest[i]) || (rest[i] >= '0' && rest[i] <= '9'))) ++i;
    std::string name = text::ToLower(rest.substr(0, i));
    while (i < rest.size() && IsRegexSpace(rest[i])) ++i;
    if (i >= rest.size() || rest[i] != '=') return NotADirective();
    std::string_view value = rest.substr(i + 1);
    if (value.empty()) return NotADirective();
    size_t lead = 0;
    while (lead < value.size() && IsRegexSpace(value[lead])) ++lead;
    if (lead == value.size()) {
      value = value.substr(value.size() - 1);  // the lazy group takes one rune back
    } else {
      value.remove_prefix(lead);
      while (IsRegexSpace(value.back())) value.remove_suffix(1);
    }
    if (name != "syntax" && name != "escape" && name != "check") return NotADirective();
    if (!seen_.insert(name).second) {
      return Status(Code::kInvalidArgument, "only one " + name + " parser directive can be used");
    }
    return std::optional<Directive>(Directive{name, std::string(value), 0});
  }

 private:
  std::optional<Directive> NotADirective() {
    done_ = true;
    return std::nullopt;
  }
  bool done_ = false;
  std::set<std::string> seen_;
};

// A word being collected by the flag and word splitters: a quoted empty
// word ("") is a word, no characters at all is not.
struct PendingWord {
  std::string text;
  bool quoted = false;

  void FlushTo(std::vector<std::string>* out) {
    if (quoted || !text.empty()) out->push_back(text);
    text.clear();
    quoted = false;
  }
};

struct LineError {
  std::string message;
  size_t offset;                    // into the logical line
  std::optional<Status> formatted;  // an error of a nested (ONBUILD) instruction
};

// Segments of `original.substr(from)`, derived from those of `original`.
std::vector<LineSegment> SliceSegments(const std::vector<LineSegment>& segs,
                                       std::string_view original, size_t from) {
  std::vector<LineSegment> out;
  for (size_t k = 0; k < segs.size(); ++k) {
    size_t begin = segs[k].offset;
    size_t end = k + 1 < segs.size() ? segs[k + 1].offset : original.size();
    if (end <= from && !(k + 1 == segs.size() && from == original.size())) continue;
    if (begin >= from) {
      out.push_back({begin - from, segs[k].line, segs[k].column});
    } else {
      int skipped = static_cast<int>(text::RuneCount(original.substr(begin, from - begin)));
      out.push_back({0, segs[k].line, segs[k].column + skipped});
    }
  }
  return out;
}

class LineParser {
 public:
  LineParser(const Source& source, char escape) : source_(source), escape_(escape) {}

  // Builds the node of one logical line (BuildKit's newNodeFromLine).
  Result<Node> NewNode(std::string_view line, std::vector<LineSegment> segments,
                       std::vector<std::string> comments) {
    Node n;
    n.original = std::string(line);
    n.segments = std::move(segments);
    n.comments = std::move(comments);
    std::string_view cmd, args;
    SplitCommand(n.original, &cmd, &n.flags, &args);
    n.value = std::string(cmd);
    size_t args_offset = args.empty() ? 0 : static_cast<size_t>(args.data() - n.original.data());
    std::optional<LineError> err = Dispatch(n, text::ToLower(cmd), args, args_offset);
    if (err && err->formatted) return *err->formatted;
    if (err) return ErrorAt(&source_, n.PositionOf(err->offset), err->message);
    return n;
  }

 private:
  std::optional<LineError> Dispatch(Node& n, const std::string& kw, std::string_view args,
                                    size_t off) {
    if (kw == "add" || kw == "copy" || kw == "volume") return MaybeJsonToList(n, args, off);
    if (kw == "cmd" || kw == "entrypoint" || kw == "run" || kw == "shell") {
      return MaybeJson(n, args, off);
    }
    if (kw == "arg") {
      n.args = ParseWords(args);
      return std::nullopt;
    }
    if (kw == "env") return NameVal(n, args, "ENV", off);
    if (kw == "label") return NameVal(n, args, "LABEL", off);
    if (kw == "expose" || kw == "from") {
      WhitespaceDelimited(n, args);
      return std::nullopt;
    }
    if (kw == "healthcheck") return HealthConfig(n, args, off);
    if (kw == "maintainer" || kw == "stopsignal" || kw == "user" || kw == "workdir") {
      if (!args.empty()) n.args.emplace_back(args);
      return std::nullopt;
    }
    if (kw == "onbuild") return SubCommand(n, args, off);
    n.args.emplace_back();  // unknown instruction: BuildKit keeps one empty argument
    return std::nullopt;
  }

  void SplitCommand(std::string_view line, std::string_view* cmd, std::vector<std::string>* flags,
                    std::string_view* args) {
    std::string_view trimmed = text::TrimSpace(line);
    size_t ws = 0;
    while (ws < trimmed.size() && !IsSplitSpace(trimmed[ws])) ++ws;
    *cmd = trimmed.substr(0, ws);
    *args = std::string_view();
    if (ws == trimmed.size()) return;
    size_t j = ws;
    while (j < trimmed.size() && IsSplitSpace(trimmed[j])) ++j;
    *args = text::TrimSpace(ExtractBuilderFlags(trimmed.substr(j), flags));
  }

  // Leading "--flag" words, quotes and escapes removed; returns the rest.
  std::string_view ExtractBuilderFlags(std::string_view line, std::vector<std::string>* words) {
    enum { kSpaces, kWord, kQuote } phase = kSpaces;
    PendingWord word;
    char quote = 0;
    char ch = 0;
    for (size_t pos = 0; pos <= line.size(); ++pos) {
      if (pos != line.size()) ch = line[pos];
      if (phase == kSpaces) {
        if (pos == line.size()) break;
        if (IsSpaceByte(ch)) continue;
        if (ch != '-' || pos + 1 == line.size() || line[pos + 1] != '-') return line.substr(pos);
        phase = kWord;
      }
      if (pos == line.size()) {
        if (word.text != "--") word.FlushTo(words);
        break;
      }
      if (phase == kWord) {
        if (IsSpaceByte(ch)) {
          phase = kSpaces;
          if (word.text == "--") return line.substr(pos);
          word.FlushTo(words);
          continue;
        }
        if (ch == '\'' || ch == '"') {
          quote = ch;
          word.quoted = true;
          phase = kQuote;
          continue;
        }
        if (ch == escape_) {
          if (pos + 1 == line.size()) continue;
          ch = line[++pos];
        }
        AppendLatin1(&word.text, ch);
        continue;
      }
      // kQuote
      if (ch == quote) {
        phase = kWord;
        continue;
      }
      if (ch == escape_) {
        if (pos + 1 == line.size()) {
          phase = kWord;
          continue;
        }
        ch = line[++pos];
      }
      AppendLatin1(&word.text, ch);
    }
    return std::string_view();
  }

  // Space-separated words with quotes and escapes kept (parseWords).
  std::vector<std::string> ParseWords(std::string_view rest) const {
    enum { kSpaces, kWord, kQuote } phase = kSpaces;
    std::vector<std::string> words;
    PendingWord word;
    char32_t quote = 0;
    char32_t ch = 0;
    size_t width = 0;
    const char32_t escape = static_cast<unsigned char>(escape_);
    auto next_rune = [&](size_t pos) {
      text::Rune r = text::DecodeRune(rest, pos);
      ch = r.value;
      width = r.width;
    };
    for (size_t pos = 0; pos <= rest.size(); pos += width) {
      if (pos != rest.size()) next_rune(pos);
      if (phase == kSpaces) {
        if (pos == rest.size()) break;
        if (text::IsSpace(ch)) continue;
        phase = kWord;
      }
      if (pos == rest.size()) {
        word.FlushTo(&words);
        break;
      }
      if (phase == kWord) {
        if (text::IsSpace(ch)) {
          phase = kSpaces;
          word.FlushTo(&words);
          continue;
        }
        if (ch == '\'' || ch == '"') {
          quote = ch;
          word.quoted = true;
          phase = kQuote;
        }
        if (ch == escape) {
          if (pos + width == rest.size()) continue;  // a trailing escape is dropped
          // Unquoted: keep the escape and the next rune, even a quote.
          text::AppendRune(&word.text, ch);
          pos += width;
          next_rune(pos);
        }
        text::AppendRune(&word.text, ch);
        continue;
      }
      // kQuote
      if (ch == quote) phase = kWord;
      // The escape works inside double quotes only.
      if (ch == escape && quote != '\'') {
        if (pos + width == rest.size()) {
          phase = kWord;
          continue;
        }
        pos += width;
        text::AppendRune(&word.text, ch);
        next_rune(pos);
      }
      text::AppendRune(&word.text, ch);
    }
    return words;
  }

  // ENV and LABEL: "KEY value" (legacy) or KEY=value pairs; args are
  // triples key, value, separator ("" legacy, "=" otherwise).
  std::optional<LineError> NameVal(Node& n, std::string_view rest, const char* key, size_t off) {
    std::vector<std::string> words = ParseWords(rest);
    if (words.empty()) return std::nullopt;
    if (words[0].find('=') == std::string::npos) {
      std::vector<std::string_view> parts = SplitWhitespace(rest, 2);
      if (parts.size() < 2)
        return LineError{std::string(key) + " must have two arguments", off, std::nullopt};
      n.args = {std::string(parts[0]), std::string(parts[1]), ""};
      return std::nullopt;
    }
    for (const std::string& w : words) {
      size_t eq = w.find('=');
      if (eq == std::string::npos) {
        return LineError{"Syntax error - can't find = in " + text::Quote(w) +
                             ". Must be of the form: name=value",
                         off, std::nullopt};
      }
      n.args.push_back(w.substr(0, eq));
      n.args.push_back(w.substr(eq + 1));
      n.args.emplace_back("=");
    }
    return std::nullopt;
  }

  void WhitespaceDelimited(Node& n, std::string_view rest) {
    if (rest.empty()) return;
    for (std::string_view p : SplitWhitespace(rest, -1)) n.args.emplace_back(p);
  }

  // 1: parsed as JSON; 0: not JSON; an error for a JSON array of non-strings.
  std::optional<LineError> Json(Node& n, std::string_view rest, size_t off, bool* parsed) {
    *parsed = false;
    std::vector<std::string> values;
    switch (ParseJsonStringArray(rest, &values)) {
      case JsonArrayResult::kStrings:
        n.args = std::move(values);
        n.json = true;
        *parsed = true;
        return std::nullopt;
      case JsonArrayResult::kNotStrings:
        return LineError{"when using JSON array syntax, arrays must be comprised of strings only",
                         off, std::nullopt};
      case JsonArrayResult::kNotArray:
        break;
    }
    return std::nullopt;
  }

  std::optional<LineError> MaybeJson(Node& n, std::string_view rest, size_t off) {
    if (rest.empty()) return std::nullopt;
    bool parsed;
    if (auto err = Json(n, rest, off, &parsed)) return err;
    if (!parsed) n.args.emplace_back(rest);
    return std::nullopt;
  }

  std::optional<LineError> MaybeJsonToList(Node& n, std::string_view rest, size_t off) {
    bool parsed;
    if (auto err = Json(n, rest, off, &parsed)) return err;
    if (!parsed) WhitespaceDelimited(n, rest);
    return std::nullopt;
  }

  // HEALTHCHECK: a type word, then the command as RUN would read it.
  std::optional<LineError> HealthConfig(Node& n, std::string_view rest, size_t off) {
    size_t sep = 0;
    while (sep < rest.size() && !IsSpaceByte(rest[sep])) ++sep;
    size_t next = sep;
    while (next < rest.size() && IsSpaceByte(rest[next])) ++next;
    if (sep == 0) return std::nullopt;
    Node cmd;
    if (auto err = MaybeJson(cmd, rest.substr(next), off + next)) return err;
    n.args.emplace_back(rest.substr(0, sep));
    for (std::string& a : cmd.args) n.args.push_back(std::move(a));
    n.json = cmd.json;
    return std::nullopt;
  }

  std::optional<LineError> SubCommand(Node& n, std::string_view rest, size_t off) {
    if (rest.empty()) return std::nullopt;
    if (++depth_ > kMaxOnbuildNesting) {
      return LineError{"too many nested ONBUILD instructions (the limit is " +
                           std::to_string(kMaxOnbuildNesting) + ")",
                       off, std::nullopt};
    }
    Result<Node> child = NewNode(rest, SliceSegments(n.segments, n.original, off), {});
    --depth_;
    if (!child.ok()) return LineError{"", off, child.status()};
    n.trigger.push_back(std::move(child).value());
    return std::nullopt;
  }

  const Source& source_;
  char escape_;
  int depth_ = 0;
};

bool CanContainHeredoc(const Node& node) {
  const Node* n = &node;
  if (n->Keyword() == "onbuild" && !n->trigger.empty()) n = &n->trigger[0];
  std::string kw = n->Keyword();
  return (kw == "add" || kw == "copy" || kw == "run") && !n->json;
}

Result<std::vector<Heredoc>> HeredocsFromLine(std::string_view line) {
  LexOptions opt;
  opt.raw_quotes = true;
  opt.raw_escapes = true;
  opt.skip_unset_env = true;
  ShellLex lex('\\', opt);
  Result<std::vector<std::string>> words = lex.ProcessWords(line, EmptyEnv());
  std::vector<Heredoc> docs;
  if (!words.ok()) return docs;  // BuildKit ignores lexing errors here
  for (const std::string& w : *words) {
    Result<std::optional<Heredoc>> h = ParseHeredocWord(w);
    if (!h.ok()) return h.status();
    if (h->has_value()) docs.push_back(std::move(**h));
  }
  return docs;
}

size_t CountQuotes(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (c == '\'' || c == '"') ? 1 : 0;
  return n;
}

}  // namespace

Result<std::optional<Heredoc>> ParseHeredocWord(std::string_view src) {
  // ^(\d*)<<(-?)\s*([^<]*)$
  size_t i = 0;
  while (i < src.size() && src[i] >= '0' && src[i] <= '9') ++i;
  std::string_view digits = src.substr(0, i);
  if (src.substr(i, 2) != "<<") return std::optional<Heredoc>();
  i += 2;
  bool chomp = false;
  if (i < src.size() && src[i] == '-') {
    chomp = true;
    ++i;
  }
  while (i < src.size() && IsRegexSpace(src[i])) ++i;
  std::string_view rest = src.substr(i);
  if (rest.find('<') != std::string_view::npos || rest.empty()) return std::optional<Heredoc>();

  uint64_t fd = 0;
  for (char c : digits) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (fd > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      fd = std::numeric_limits<uint64_t>::max();  // strconv.ParseUint saturates
      break;
    }
    fd = fd * 10 + d;
  }

  // The delimiter is lexed with and without quote removal: if the counts
  // of quote characters differ, part of it was quoted and the body is not
  // expanded.
  LexOptions opt;
  opt.skip_unset_env = true;
  Result<std::vector<std::string>> words = ShellLex('\\', opt).ProcessWords(rest, EmptyEnv());
  if (!words.ok()) return words.status();
  if (words->size() != 1) return std::optional<Heredoc>();
  opt.raw_quotes = true;
  Result<std::vector<std::string>> raw = ShellLex('\\', opt).ProcessWords(rest, EmptyEnv());
  if (!raw.ok()) return raw.status();
  if (raw->size() != words->size()) {
    return Status(Code::kInvalidArgument,
                  "internal lexing of heredoc produced inconsistent results: " + std::string(rest));
  }
  Heredoc h;
  h.name = (*words)[0];
  h.fd = fd;
  h.chomp = chomp;
  h.expand = CountQuotes((*words)[0]) == CountQuotes((*raw)[0]);
  return std::optional<Heredoc>(std::move(h));
}

std::string ChompHeredocContent(std::string_view content) {
  std::string out;
  out.reserve(content.size());
  bool line_start = true;
  for (char c : content) {
    if (line_start && c == '\t') continue;
    line_start = c == '\n';
    out.push_back(c);
  }
  return out;
}

Result<Ast> Parse(SourcePtr source) {
  const Source& src = *source;
  Ast ast;
  ast.source = source;
  DirectiveParser directives;
  LineScanner sc(src.text());
  std::vector<std::string> comments;
  int current = 0;

  // processLine: strips the line ending (and, for the first line of an
  // instruction, leading space), feeds the directive parser, drops comments.
  auto process_line = [&](std::string_view raw, bool strip_left, int line_no,
                          std::string_view* out) -> Result<bool> {
    std::string_view token = TrimNewline(raw);
    if (strip_left) token = text::TrimLeftSpace(token);
    Result<std::optional<Directive>> d = directives.ParseLine(token);
    if (!d.ok()) return ErrorAt(&src, src.LineStart(line_no), d.status().message());
    bool ok = false;
    if (d->has_value()) {
      Directive dir = std::move(**d);
      dir.line = line_no;
      if (dir.name == "escape") {
        if (dir.value != "`" && dir.value != "\\") {
          return ErrorAt(&src, src.LineStart(line_no),
                         "invalid escape token '" + dir.value + "' does not match ` or \\");
        }
        ast.escape = dir.value[0];
      }
      ast.directives.push_back(std::move(dir));
      ok = true;
    }
    *out = IsComment(token) ? std::string_view() : token;
    return ok;
  };

  // trimContinuationCharacter: BuildKit's `([^E])E[ \t]*$|^E[ \t]*$`.
  auto trim_continuation = [&](std::string_view line, bool* end_of_line) {
    size_t e = line.size();
    while (e > 0 && (line[e - 1] == ' ' || line[e - 1] == '\t')) --e;
    *end_of_line = true;
    if (e == 0 || line[e - 1] != ast.escape) return line;
    if (e == 1) {
      *end_of_line = false;
      return std::string_view();
    }
    if (line[e - 2] == ast.escape) return line;  // an escaped escape character
    *end_of_line = false;
    return line.substr(0, e - 1);
  };

  while (sc.Scan()) {
    std::string_view raw = sc.line();
    size_t bom = 0;
    if (current == 0 && raw.substr(0, 3) == "\xEF\xBB\xBF") {
      raw.remove_prefix(3);
      bom = 3;
    }
    if (IsComment(raw)) {
      std::string_view c = text::TrimSpace(raw.substr(1));
      if (c.empty()) {
        comments.clear();
      } else {
        comments.emplace_back(c);
      }
    }
    std::string_view token;
    Result<bool> directive = process_line(raw, true, current + 1, &token);
    if (!directive.ok()) return directive.status();
    if (*directive && !comments.empty()) comments.pop_back();
    ++current;
    const int start_line = current;

    bool eol;
    std::string_view first = trim_continuation(token, &eol);
    if (eol && first.empty()) continue;
    size_t lead = bom + (TrimNewline(raw).size() - text::TrimLeftSpace(TrimNewline(raw)).size());
    std::string buf(first);
    std::vector<LineSegment> segments{{0, start_line, src.At(start_line, lead).column}};

    bool empty_continuation = false;
    while (!eol && sc.Scan()) {
      std::string_view next_raw = sc.line();
      std::string_view t;
      Result<bool> d = process_line(next_raw, false, current + 1, &t);
      if (!d.ok()) return d.status();
      ++current;
      if (IsComment(next_raw)) continue;
      if (IsEmptyContinuationLine(t)) {
        empty_continuation = true;
        continue;
      }
      std::string_view part = trim_continuation(t, &eol);
      segments.push_back({buf.size(), current, 1});
      buf.append(part);
    }

    if (empty_continuation) {
      // BuildKit points at the instruction's last line.
      ast.warnings.push_back(
          CheckWarning(kNoEmptyContinuation, "Empty continuation line", src.LineStart(current)));
    }

    LineParser lp(src, ast.escape);
    Result<Node> parsed = lp.NewNode(buf, std::move(segments), comments);
    if (!parsed.ok()) return parsed.status();
    Node child = std::move(parsed).value();

    if (CanContainHeredoc(child) && buf.find("<<") != std::string::npos) {
      Result<std::vector<Heredoc>> docs = HeredocsFromLine(buf);
      if (!docs.ok()) return ErrorAt(&src, child.PositionOfText("<<"), docs.status().message());
      for (Heredoc& h : *docs) {
        bool terminated = false;
        std::string content;
        while (sc.Scan()) {
          std::string_view body = sc.line();
          ++current;
          std::string_view candidate = TrimNewline(body);
          if (h.chomp) {
            while (!candidate.empty() && candidate[0] == '\t') candidate.remove_prefix(1);
          }
          if (candidate == h.name) {
            terminated = true;
            break;
          }
          content.append(body);
        }
        if (!terminated) {
          return ErrorAt(&src, child.PositionOfText("<<"),
                         "unterminated heredoc " + text::Quote(h.name) + " (no line reads " +
                             text::Quote(h.name) + ")");
        }
        h.content = std::move(content);
        child.heredocs.push_back(std::move(h));
      }
    }
    child.start_line = start_line;
    child.end_line = current;
    ast.children.push_back(std::move(child));
    comments.clear();
  }

  if (ast.children.empty()) {
    return ErrorAt(&src, src.LineStart(std::max(current, 1)), "file with no instructions");
  }
  if (sc.too_long()) {
    return ErrorAt(
        &src, Position{current + 1, 1},
        "dockerfile line greater than max allowed size of " + std::to_string(kMaxLineBytes));
  }
  return ast;
}

Result<CheckConfig> ParseCheckOptions(std::string_view value) {
  CheckConfig config;
  value = text::TrimSpace(value);
  if (value.empty()) return config;
  // strings.SplitN(value, ";", 3): a third part keeps any further ';'.
  std::vector<std::string_view> parts;
  while (parts.size() < 2) {
    size_t semi = value.find(';');
    if (semi == std::string_view::npos) break;
    parts.push_back(value.substr(0, semi));
    value.remove_prefix(semi + 1);
  }
  parts.push_back(value);
  auto rule_list = [](std::string_view v, bool* all, std::set<std::string, std::less<>>* rules) {
    v = text::TrimSpace(v);
    if (v == "all") {
      *all = true;
      return;
    }
    rules->clear();
    for (const std::string& r : text::Split(v, ',')) rules->emplace(text::TrimSpace(r));
  };
  for (std::string_view p : parts) {
    size_t eq = p.find('=');
    if (eq == std::string_view::npos) {
      return Status(Code::kInvalidArgument, "invalid check option " + text::Quote(p));
    }
    std::string_view key = text::TrimSpace(p.substr(0, eq));
    std::string_view v = p.substr(eq + 1);
    if (key == "skip") {
      rule_list(v, &config.skip_all, &config.skip);
    } else if (key == "experimental") {
      rule_list(v, &config.experimental_all, &config.experimental);
    } else if (key == "error") {
      std::string_view b = text::TrimSpace(v);
      std::optional<bool> on = ParseBool(b);
      if (!on) {
        return Status(Code::kInvalidArgument, "failed to parse check option " + text::Quote(p) +
                                                  ": strconv.ParseBool: parsing " + text::Quote(b) +
                                                  ": invalid syntax");
      }
      config.error = *on;
    } else {
      return Status(Code::kInvalidArgument, "invalid check option " + text::Quote(key));
    }
  }
  return config;
}

std::string_view CheckDirectiveValue(std::string_view directive_value) {
  return directive_value.substr(0, directive_value.find(' '));
}

std::optional<CheckConfig> CheckConfigFromComments(const std::vector<std::string>& comments) {
  for (const std::string& c : comments) {
    // Each comment line is read as a directive of its own.
    Result<std::optional<Directive>> d = DirectiveParser().ParseLine("#" + c);
    if (!d.ok() || !d->has_value() || (*d)->name != "check") continue;
    Result<CheckConfig> config = ParseCheckOptions(CheckDirectiveValue((*d)->value));
    if (!config.ok()) return std::nullopt;
    return std::move(config).value();
  }
  return std::nullopt;
}

Result<Ast> ParseText(std::string_view text, std::string name) {
  return Parse(std::make_shared<const Source>(std::move(name), std::string(text)));
}

}  // namespace hoist::dockerfile
