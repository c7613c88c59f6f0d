// Splitting "/"-separated paths (image paths, tar names, symlink targets).
#pragma once

#include <string_view>
#include <vector>

namespace hoist::layer {

// The non-empty components of `path`, in order: "/a//b/" -> {"a", "b"}.
// "." and ".." are returned as they are; what they mean is the caller's.
inline std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

}  // namespace hoist::layer
