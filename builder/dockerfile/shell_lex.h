// Shell-word processing with BuildKit's rules (frontend/dockerfile/shell):
// quote removal, escapes, and variable expansion — $V, ${V}, ${V:-w},
// ${V-w}, ${V:+w}, ${V+w}, ${V:?msg}, ${V?msg}, ${V#p}, ${V##p}, ${V%p},
// ${V%%p}, ${V/p/r}, ${V//p/r} — plus word splitting for the instructions
// that split (EXPOSE) and for heredoc detection.
//
// Positional ($1) and special ($@ $* $# $? $- $$ $! $0) parameters are
// never set. Nothing here runs a command: $(...) and `...` stay literal.
//
// A ShellLex is immutable after construction and safe for concurrent use.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hoist::dockerfile {

// The variables an expansion can see.
class EnvGetter {
 public:
  virtual ~EnvGetter() = default;
  // The value of `key`, or nullopt when unset (set-but-empty is "").
  virtual std::optional<std::string_view> Get(std::string_view key) const = 0;
};

// An ordered list of variables; setting an existing key replaces its value
// in place (the order of first definition is kept, as BuildKit's EnvList).
class Env : public EnvGetter {
 public:
  Env() = default;
  // From "K=V" entries (a later entry with the same key wins; "K" alone is K="").
  static Env FromList(const std::vector<std::string>& entries);

  std::optional<std::string_view> Get(std::string_view key) const override;
  void Set(std::string_view key, std::string_view value);
  void Remove(std::string_view key);
  bool empty() const { return order_.empty(); }
  const std::vector<std::pair<std::string, std::string>>& entries() const { return order_; }
  // Total size of the keys and values, in bytes.
  size_t byte_size() const { return bytes_; }

 private:
  std::vector<std::pair<std::string, std::string>> order_;
  std::map<std::string, size_t, std::less<>> index_;
  size_t bytes_ = 0;
};

// An EnvGetter with no variables.
class EmptyEnv : public EnvGetter {
 public:
  std::optional<std::string_view> Get(std::string_view) const override { return std::nullopt; }
};

struct LexOptions {
  bool raw_quotes = false;           // keep quote characters in the output
  bool raw_escapes = false;          // keep escape characters in the output
  bool skip_process_quotes = false;  // treat quotes as ordinary characters
  bool skip_unset_env = false;       // leave references to unset variables as written
  // Pattern substitutions (${V#p}, ${V/p/r}) cost |value| x |pattern|
  // steps. When set, calls draw from this shared budget (and fail once it
  // is spent); otherwise each call gets its own. Not thread-safe to share.
  size_t* pattern_budget = nullptr;
};

struct WordResult {
  std::string word;                 // the processed word (ProcessWord)
  std::vector<std::string> words;   // the word split on unquoted whitespace (ProcessWords)
  std::set<std::string> matched;    // variables referenced and set
  std::set<std::string> unmatched;  // variables referenced but unset
};

class ShellLex {
 public:
  // `escape` is the Dockerfile's escape character ('\\' or '`').
  explicit ShellLex(char escape = '\\', LexOptions options = {});

  // Processes `word` as one word: quotes removed, variables expanded.
  // Errors (kInvalidArgument) read `failed to process "<word>": <why>`.
  Result<std::string> ProcessWord(std::string_view word, const EnvGetter& env) const;
  // Like ProcessWord, also reporting which variables were referenced.
  Result<WordResult> ProcessWordWithMatches(std::string_view word, const EnvGetter& env) const;
  // Processes `word` and splits the result on whitespace that was not
  // quoted or escaped (whitespace coming from a variable's value splits).
  Result<std::vector<std::string>> ProcessWords(std::string_view word, const EnvGetter& env) const;

  char escape() const { return static_cast<char>(escape_); }
  const LexOptions& options() const { return options_; }

 private:
  Result<WordResult> Process(std::string_view word, const EnvGetter& env, bool capture) const;

  char32_t escape_;
  LexOptions options_;
};

}  // namespace hoist::dockerfile
