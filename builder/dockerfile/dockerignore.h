// .dockerignore: which files of the build context a build leaves out, with
// Docker's semantics (moby/patternmatcher and its ignorefile reader, as
// BuildKit and fsutil use them):
//   - one pattern per line; lines starting with '#' are comments; a UTF-8
//     BOM, surrounding whitespace and blank lines are ignored;
//   - patterns are cleaned like Go's filepath.Clean ("./a//b/" -> "a/b"),
//     and a leading '/' is dropped ("/a" == "a");
//   - filepath.Match syntax: '*' (any run within one path element), '?',
//     '[a-z]' / '[^a-z]' classes, '\' escapes; plus '**' for any number of
//     directories ("**/*.go", "a/**");
//   - "!pattern" re-includes what earlier patterns excluded; the last
//     matching pattern wins;
//   - a path is excluded when it or one of its parent directories matches.
// Deviation: '*' and '?' inside a bracket class are literal here (Docker
// turns them into broken regular expressions).
//
// Immutable after construction; safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hoist::dockerfile {

// Go's path.Clean.
std::string CleanPath(std::string_view path);

class DockerIgnore {
 public:
  DockerIgnore();  // excludes nothing
  ~DockerIgnore();
  DockerIgnore(const DockerIgnore&);
  DockerIgnore(DockerIgnore&&) noexcept;
  DockerIgnore& operator=(const DockerIgnore&);
  DockerIgnore& operator=(DockerIgnore&&) noexcept;

  // The patterns of an ignore file's text (ignorefile.ReadAll).
  static Result<std::vector<std::string>> ReadPatterns(std::string_view text);
  // Compiles patterns (patternmatcher.New); a malformed pattern ("[a",
  // "a\", "!") is kInvalidArgument.
  static Result<DockerIgnore> Compile(const std::vector<std::string>& patterns);
  // ReadPatterns + Compile.
  static Result<DockerIgnore> Parse(std::string_view text);

  // Whether `path` (slash-separated, relative to the context root) is left
  // out of the context.
  bool Excluded(std::string_view path) const;

  // For a top-down walk: the per-pattern results of a directory, passed to
  // its entries (patternmatcher's MatchesUsingParentResults).
  struct MatchInfo {
    std::vector<bool> parent_matched;
  };
  bool ExcludedUsingParent(std::string_view path, const MatchInfo& parent, MatchInfo* info) const;
  // Whether a walk may skip the whole excluded directory `dir`: true when
  // no "!" pattern can re-include anything below it (fsutil's rule).
  bool CanSkipExcludedDir(std::string_view dir) const;

  bool empty() const { return patterns_.empty(); }
  bool has_exceptions() const { return exceptions_; }
  // The cleaned patterns, "!" kept on exceptions.
  std::vector<std::string> patterns() const;

  struct Token;
  struct Pattern;

 private:
  std::vector<Pattern> patterns_;
  bool exceptions_ = false;
  bool only_prefix_exceptions_ = true;
};

// The ignore rules for a build: "<dockerfile>.dockerignore" next to the
// Dockerfile when it exists, else "<context_dir>/.dockerignore", else none.
// `used` (optional) receives the file read ("" when none).
Result<DockerIgnore> LoadDockerIgnore(const std::string& context_dir,
                                      const std::string& dockerfile_path, std::string* used);

}  // namespace hoist::dockerfile
