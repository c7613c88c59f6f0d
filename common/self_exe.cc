#include "common/self_exe.h"

#include <limits.h>
#include <unistd.h>

namespace hoist {

Result<std::string> SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf);
  if (n < 0) return ErrnoStatus("readlink", "/proc/self/exe");
  if (static_cast<size_t>(n) == sizeof buf) {
    return Status(Code::kInternal, "the path of the hoist binary is longer than PATH_MAX");
  }
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace hoist
