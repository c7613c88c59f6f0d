// Source wildcards of COPY and ADD: Go's filepath.Match, one path element
// at a time (Dockerfile reference, "COPY": "matching will be done using
// Go's filepath.Match rules"). '*' matches any run of characters within
// the element, '?' one character, "[a-z]" / "[^a-z]" a class, '\' escapes.
//
// The matching itself is dockerfile::DockerIgnore's (one matcher in the
// project): an element is compiled as a one-pattern ignore list after the
// few rewrites that make the two grammars agree ("**" is "*" here; a
// leading '!' and surrounding blanks are literal).
#pragma once

#include <string>
#include <string_view>

#include "builder/dockerfile/dockerignore.h"
#include "common/status.h"

namespace hoist::engine {

// Whether `path` has an unescaped '*', '?' or '[' (BuildKit's
// containsWildcards): only such sources are matched as patterns.
bool HasWildcards(std::string_view path);

// One compiled path element. Immutable; safe for concurrent use.
class ElementPattern {
 public:
  // kInvalidArgument for a malformed pattern ("[a", "a\").
  static Result<ElementPattern> Compile(std::string_view element);
  // Whether the file name `name` (no '/') matches.
  bool Match(std::string_view name) const { return matcher_.Excluded(name); }
  // Whether the element has wildcards (else it names one entry).
  bool literal() const { return literal_; }
  // The element with escapes removed (meaningful when literal()).
  const std::string& text() const { return text_; }

 private:
  dockerfile::DockerIgnore matcher_;
  bool literal_ = true;
  std::string text_;
};

}  // namespace hoist::engine
