// The --chmod of COPY and ADD: an octal mode, or since Dockerfile 1.14 the
// symbolic form of chmod(1) ("u+x", "go-w", "a=rX,u+w"), applied to each
// copied file and directory as chmod(1) would, with no umask.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hoist::engine {

class ModeChange {
 public:
  // "0755" / "755" (at most 4 octal digits), or comma-separated clauses
  // [ugoa]*([-+=]([rwxXst]*|[ugo]))+. Anything else is kInvalidArgument.
  static Result<ModeChange> Parse(std::string_view spec);

  // The permission bits (07777) that a file or directory whose bits are
  // `mode` gets.
  uint32_t Apply(uint32_t mode, bool is_dir) const;

  // The spec as written (for cache keys).
  const std::string& spec() const { return spec_; }

 private:
  struct Action {
    uint32_t who = 0;   // 0700 | 0070 | 0007 classes this clause names
    char op = '+';      // '+', '-' or '='
    uint32_t perm = 0;  // 0444 r, 0222 w, 0111 x (per class), 04000/02000/01000
    bool x_if = false;  // X: execute only for directories and executables
    char copy = 0;      // 'u', 'g' or 'o': the bits of that class
  };
  std::string spec_;
  bool octal_ = false;
  uint32_t mode_ = 0;  // octal_
  std::vector<Action> actions_;
};

}  // namespace hoist::engine
