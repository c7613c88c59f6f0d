// The isolations behind MakeSandbox (sandbox.h); internal to hoist_sandbox.
#pragma once

#include <memory>
#include <string>

#include "builder/sandbox/sandbox.h"

namespace hoist::sandbox {

// userns (user_namespace = true) or root (false). The caller has checked
// that the isolation can work here (ProbeNamespaces).
std::unique_ptr<Sandbox> NewNamespaceSandbox(bool user_namespace);

// Ok when a child can create the namespaces (a user namespace too when
// `user_namespace`), mount a tmpfs and a private /proc in them; else why not
// (kUnsupported). Runs a short-lived child each call.
Status ProbeNamespaces(bool user_namespace);

// proot at `proot_path`.
std::unique_ptr<Sandbox> NewProotSandbox(std::string proot_path);

// The host files behind /etc/hosts and /etc/resolv.conf for one step, in a
// private temporary directory removed with this object.
class EtcFiles {
 public:
  static Result<std::unique_ptr<EtcFiles>> Make(const RunSpec& spec);
  ~EtcFiles();
  EtcFiles(const EtcFiles&) = delete;
  EtcFiles& operator=(const EtcFiles&) = delete;
  const std::string& dir() const { return dir_; }
  std::string hosts() const { return dir_ + "/hosts"; }
  std::string resolv_conf() const { return dir_ + "/resolv.conf"; }

 private:
  explicit EtcFiles(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// Checks what every isolation requires of a spec and returns the rootfs as
// an absolute canonical path. kInvalidArgument / kNotFound as in Sandbox::Run.
Result<std::string> CheckSpec(const RunSpec& spec);

// The RunResult for a command that could not be executed (exit 127/126 and
// the reason as an output line).
void ExecFailed(const std::string& file, int err, class OutputLines& out, RunResult* result);

}  // namespace hoist::sandbox
