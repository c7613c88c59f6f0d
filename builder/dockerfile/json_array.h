// The exec form of RUN/CMD/ENTRYPOINT/SHELL and the JSON form of
// ADD/COPY/VOLUME: a JSON array of strings, read with the rules of Go's
// encoding/json as BuildKit's parser uses it (RFC 8259 syntax, invalid UTF-8
// in strings replaced by U+FFFD, lone surrogates replaced, nesting limited
// to 10000 levels, a number too large for a float64 is an error).
// Iterative (no recursion), pure, safe for concurrent use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hoist::dockerfile {

enum class JsonArrayResult {
  kStrings,     // a valid array of strings; `out` holds them
  kNotArray,    // not JSON (or not an array): the caller falls back to shell form
  kNotStrings,  // valid JSON array with a non-string element: an error in Dockerfiles
};

// Parses `text` (leading Unicode whitespace is skipped, as BuildKit does).
JsonArrayResult ParseJsonStringArray(std::string_view text, std::vector<std::string>* out);

}  // namespace hoist::dockerfile
