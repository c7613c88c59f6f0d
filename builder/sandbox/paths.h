// Lexical path helpers for paths inside a step's root ("/"-separated).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "builder/layer/path.h"

namespace hoist::sandbox {

// "/a/./b/../c/" -> "a/c": components with "." dropped and ".." popping the
// one before it (never above the root). "" is the root. Lexical only: the
// caller resolves symlinks (layer::RootDir).
inline std::string Lexical(std::string_view path) {
  std::vector<std::string_view> parts;
  for (std::string_view c : layer::SplitPath(path)) {
    if (c == ".") continue;
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(c);
  }
  std::string out;
  for (std::string_view c : parts) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

// True when `path` is `dir` or lies below it (both as Lexical returns them,
// or both absolute host paths without a trailing "/"); "" contains all.
inline bool Under(std::string_view path, std::string_view dir) {
  return dir.empty() || path == dir ||
         (path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/');
}

}  // namespace hoist::sandbox
