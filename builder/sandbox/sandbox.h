// Sandbox: how a RUN step executes. "Run this argv in this root filesystem
// with this environment, user and working directory", and nothing the step
// starts outlives it.
//
// Three isolations (DESIGN.md, "The seams"):
//   userns  a new user namespace (the caller mapped to root; a full id range
//           through newuidmap/newgidmap when /etc/subuid and /etc/subgid
//           grant one; the identity map when the caller is root) plus mount,
//           PID, UTS and IPC namespaces (and an empty network namespace for
//           Network::kNone). The root is bind-mounted and pivot_root'ed, with
//           a private /proc, a minimal /dev (null zero full random urandom tty,
//           devpts, shm), /etc/hosts, /etc/resolv.conf, the hostname, and a
//           read-only /sys where the root has that directory. Device nodes
//           cannot be created in a user namespace (mknod fails).
//           A PID 1 of ours reaps and, when the step ends, takes every other
//           process of the namespace with it.
//   root    the same without the user namespace (the caller must be root).
//   proot   Debian's proot (ptrace) where namespaces are blocked: -0, the
//           root as -r, binds for /dev, /proc, hosts and resolv.conf. No
//           private /proc, hostname or network; --network=none is refused;
//           read-only bind mounts are private copies (writes are discarded);
//           processes the step leaves behind are killed when it exits (with
//           seccomp user notification; without it proot waits for them).
//
// Ownership (see RunResult::owners): under proot as a non-root caller, and in
// a user namespace that maps only the caller, chown cannot really happen.
// Where the kernel offers seccomp user notification, the sandbox watches the
// chown family of calls, records the intended owner in the extractor's
// kOwnerXattr ("uid:gid", builder/layer/extract.h) on the file, and lets the
// call succeed, so a Snapshotter puts the owner into the layer. What it
// cannot record is counted, and when it cannot watch at all it says so:
// never a silently wrong image. stat is not virtualised: the step still
// sees such files as root's, so a tool that reads an owner back and passes
// it on (busybox `chgrp` does) records root's uid.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "builder/sandbox/id_map.h"
#include "common/status.h"

namespace hoist::sandbox {

// A mount inside the step's root, in addition to the standard ones.
struct Mount {
  enum class Type { kBind, kTmpfs };
  Type type = Type::kBind;
  std::string source;  // kBind: a host path (file or directory)
  std::string target;  // absolute path inside the root; created when missing
  bool read_only = false;
  uint64_t tmpfs_size = 0;  // kTmpfs: bytes, 0 = the kernel's default
};

struct RunSpec {
  std::string rootfs;              // host directory that becomes "/"
  std::vector<std::string> argv;   // argv[0] without "/" is looked up in env's PATH
  std::vector<std::string> env;    // "NAME=value", exactly what the step sees
  std::string cwd = "/";           // must exist in the root
  uint32_t uid = 0, gid = 0;       // numeric; names are resolved by the caller
  std::vector<uint32_t> groups;    // supplementary groups
  std::string hostname = "hoist";  // not applied under proot
  enum class Network { kHost, kNone };
  Network network = Network::kHost;
  std::vector<Mount> mounts;
  // Contents of /etc/hosts and /etc/resolv.conf during the step (bind
  // mounted; they never reach the root or a layer). Empty: a default
  // hosts file (localhost, the hostname) and the host's resolv.conf.
  std::string hosts_file, resolv_conf;
  std::chrono::milliseconds timeout{0};  // 0 = none
  // Polled about every 100 ms; true kills the step like a timeout.
  const std::atomic<bool>* cancel = nullptr;
  // Each line of stdout+stderr (merged, without its "\n"; a line longer
  // than 64 KiB arrives in pieces), on the calling thread, as it comes.
  std::function<void(std::string_view line)> on_output;
};

// How the step's chown calls fared where chown cannot really happen.
struct OwnerReport {
  uint64_t recorded = 0;  // owners written to kOwnerXattr
  // Calls that succeeded for the step but are not in the filesystem: a
  // symlink (user xattrs cannot sit on one) or a file outside the root
  // (a mount). `lost_paths` names the first 20 (paths inside the root).
  uint64_t lost = 0;
  std::vector<std::string> lost_paths;
  // chown was faked without being watched (no seccomp user notification):
  // any ownership change of the step is lost. The caller must warn.
  bool unwatched = false;
};

struct RunResult {
  int exit_code = 0;       // the step's exit status; 128 + signal when killed, as sh says
  int signal = 0;          // the signal that killed it, else 0
  bool timed_out = false;  // killed for RunSpec::timeout
  bool cancelled = false;  // killed for RunSpec::cancel
  std::string tail;        // the last lines of output (at most 20 lines, 4 KiB)
  OwnerReport owners;
  bool ok() const { return exit_code == 0 && signal == 0; }
};

enum class Isolation { kAuto, kUserns, kRoot, kProot };

// "auto", "userns", "root", "proot".
std::string_view IsolationName(Isolation isolation);
// Parses the names above; kInvalidArgument names the accepted values.
Result<Isolation> ParseIsolation(std::string_view name);

class Sandbox {
 public:
  virtual ~Sandbox() = default;
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  // The isolation in use: "userns", "root" or "proot".
  virtual Isolation isolation() const = 0;
  std::string_view Name() const { return IsolationName(isolation()); }

  // Container ids -> host ids for files the step creates or chowns; a
  // Snapshotter reads owners through it.
  virtual const IdMap& ids() const = 0;

  // Runs one step to its end (or its timeout/cancellation). A non-zero exit
  // is a RunResult, not an error. Errors: kInvalidArgument for a bad spec
  // (no argv, relative cwd or mount target, an unmapped uid/gid, a mount
  // this isolation cannot make), kNotFound for a missing rootfs, cwd or
  // mount source, kIo when the sandbox cannot be set up (the message says
  // which step failed). A command that cannot be executed is exit code 127
  // (126: not executable) with the reason as the last output line, as a
  // shell would report it. Mountpoints the sandbox had to create in the root
  // are removed afterwards (and their parent's times restored) unless the
  // step wrote into them.
  // Thread-safety: Run may be called concurrently on different roots.
  virtual Result<RunResult> Run(const RunSpec& spec) = 0;

  // Removes a tree that steps wrote into. In a user namespace with
  // subordinate ids its files may belong to ids the caller cannot delete
  // as itself; then the removal runs in a user namespace with the same
  // maps. A missing `path` is not an error; kIo names what was left.
  virtual Status RemoveTree(const std::string& path);

 protected:
  Sandbox() = default;
};

// Makes a sandbox. kAuto: userns when the kernel allows it (probed once per
// process in a short-lived child), else root when euid is 0, else proot when
// installed, else kUnsupported saying why and what to change. A forced
// isolation that cannot work here is kUnsupported with the same kind of
// reason. `notice`, when not null, receives a one-line notice when kAuto
// falls back to proot (else it is cleared).
Result<std::unique_ptr<Sandbox>> MakeSandbox(Isolation isolation, std::string* notice = nullptr);

// `buildah unshare` for hoist's build commands: when the caller is not
// root but /etc/subuid and /etc/subgid grant it a range (and newuidmap is
// installed), the files a build makes belong to many ids (a step's chown
// really happens), which the caller itself can neither read nor delete.
// Then this re-executes the program (`argv`, with HOIST_USERNS=1) in a user
// namespace with the full map, where it is root over every mapped id, and
// exits with its exit status; TERM and HUP are passed on. Returns (doing
// nothing) when root, without a range, inside already, when user
// namespaces are blocked, or with HOIST_NO_UNSHARE=1.
// REQUIRES: no other thread runs (call it first thing in main).
void ReexecInUserNamespace(char** argv);

}  // namespace hoist::sandbox
