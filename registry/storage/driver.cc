#include <algorithm>

#include "registry/storage/driver.h"

namespace hoist::storage {

Status StorageDriver::Walk(const std::string& path,
                           const std::function<WalkAction(const FileInfo&)>& fn) {
  Result<std::vector<std::string>> children = List(path);
  if (!children.ok()) return children.status();
  std::sort(children->begin(), children->end());
  for (const std::string& child : *children) {
    Result<FileInfo> info = Stat(child);
    if (!info.ok()) {
      if (info.status().code() == Code::kNotFound) continue;  // raced with a delete
      return info.status();
    }
    if (fn(*info) == WalkAction::kSkipDir || !info->is_dir) continue;
    Status st = Walk(child, fn);
    if (!st.ok() && st.code() != Code::kNotFound) return st;
  }
  return Status::Ok();
}

}  // namespace hoist::storage
