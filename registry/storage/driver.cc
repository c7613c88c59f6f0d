#include "registry/storage/driver.h"

#include <algorithm>

#include "registry/storage/paths.h"

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

void ForEachRepositoryInternal(
    StorageDriver& d, const std::function<void(const std::string& repo, const std::string& path,
                                               const std::string& name)>& visit) {
  const std::string root = paths::RepositoriesRoot();
  std::vector<std::string> stack = {root};
  while (!stack.empty()) {
    std::string dir = stack.back();
    stack.pop_back();
    Result<std::vector<std::string>> children = d.List(dir);
    if (!children.ok()) continue;
    for (const std::string& child : *children) {
      std::string name = child.substr(child.rfind('/') + 1);
      if (name.empty() || name[0] == '.') continue;
      if (name[0] == '_') {
        visit(dir.substr(std::min(dir.size(), root.size() + 1)), child, name);
      } else {
        stack.push_back(child);
      }
    }
  }
}

}  // namespace hoist::storage
