// OwnerMonitor: the parent's side of the seccomp filter (child.h): it
// answers the step's chown calls where chown cannot really happen, by
// recording the intended owner in kOwnerXattr on the file inside the root,
// and reports exit_group calls (proot: the exit code of the step's own
// process, since proot itself exits with the last process's status).
//
// Paths: a call's path is read from the caller's memory (process_vm_readv)
// and, when relative, joined to its working directory or directory
// descriptor as /proc/PID/cwd and /proc/PID/fd/N name them. In a mount
// namespace those links read as paths inside the root; under proot (which
// rewrites a call's path before the filter sees it) as host paths, which
// must lie under the root. The path is then resolved inside the root
// (layer::RootDir), so a symlink can never lead the monitor out of it.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "builder/sandbox/id_map.h"
#include "builder/sandbox/sandbox.h"

namespace hoist::sandbox {

class OwnerMonitor {
 public:
  struct Options {
    std::string rootfs;       // host path of the step's root
    bool host_paths = false;  // proot: paths and /proc links are host paths
    // Container paths ("/etc/hosts", "/dev") mounted over the root: a chown
    // under them succeeds and is not recorded (not part of any layer).
    std::vector<std::string> mounts;
    IdMap ids;  // to read a file's current owner from the host
    // true: the call succeeds without reaching the kernel (user namespace);
    // false: it continues into the kernel (proot fakes the EPERM away).
    bool answer_chown = true;
    // proot passes container root's id to the kernel as the caller's own:
    // read a call's ids through `ids` (the caller's id is 0).
    bool ids_in_calls_are_host = false;
  };

  explicit OwnerMonitor(Options options);
  OwnerMonitor(const OwnerMonitor&) = delete;
  OwnerMonitor& operator=(const OwnerMonitor&) = delete;

  // Receives and answers one pending notification on `listener`.
  void Handle(int listener);

  // Called for exit_group with the caller's pid (as this process sees it)
  // and exit status (0-255).
  std::function<void(pid_t pid, int status)> on_exit_group;

  const OwnerReport& report() const { return report_; }

 private:
  struct Call;
  // Records the owner for `call`; false when it could not (then the call
  // continues into the kernel, which gives the natural error).
  bool Record(const Call& call);
  void Lost(const std::string& path);

  Options o_;
  OwnerReport report_;
};

// "uid:gid" as kOwnerXattr holds it; false on anything else.
bool ParseOwner(std::string_view text, uint32_t* uid, uint32_t* gid);

}  // namespace hoist::sandbox
