// Every on-disk path `hoist up` uses, under the project's .hoist/ directory
// next to the file (hoist.yaml):
//
//   .hoist/state.json          registry and image state (state.h), replaced atomically
//   .hoist/up.lock             held (flock) by the `hoist up` that is running
//   .hoist/registry.pid        the registry's PID while one runs
//   .hoist/registry.addr       the address the registry bound (its --addr-file)
//   .hoist/logs/registry.log   the registry's stdout and stderr (appended)
//   .hoist/logs/<image>.log    one image's build/import/push log (rewritten each run)
//   .hoist/work/<image>/       a command image's HOIST_OUTPUT
//   .hoist/registry/           the registry storage unless the file names another
#pragma once

#include <string>

namespace hoist::up::paths {

inline std::string HoistDir(const std::string& base_dir) {
  return base_dir + "/.hoist";
}
inline std::string State(const std::string& base_dir) {
  return HoistDir(base_dir) + "/state.json";
}
inline std::string Lock(const std::string& base_dir) {
  return HoistDir(base_dir) + "/up.lock";
}
inline std::string RegistryPid(const std::string& base_dir) {
  return HoistDir(base_dir) + "/registry.pid";
}
inline std::string RegistryAddr(const std::string& base_dir) {
  return HoistDir(base_dir) + "/registry.addr";
}
inline std::string LogDir(const std::string& base_dir) {
  return HoistDir(base_dir) + "/logs";
}
inline std::string RegistryLog(const std::string& base_dir) {
  return LogDir(base_dir) + "/registry.log";
}
inline std::string ImageLog(const std::string& base_dir, const std::string& image) {
  return LogDir(base_dir) + "/" + image + ".log";
}
inline std::string WorkDir(const std::string& base_dir, const std::string& image) {
  return HoistDir(base_dir) + "/work/" + image;
}

}  // namespace hoist::up::paths
