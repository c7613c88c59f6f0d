#include "builder/sandbox/sandbox.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "builder/sandbox/isolations.h"
#include "builder/sandbox/supervise.h"
#include "builder/store/file_io.h"

namespace hoist::sandbox {
namespace {

constexpr const char* kDefaultHosts =
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n";

Status WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
  f.close();
  if (!f) return Status(Code::kIo, "write " + path + " failed");
  ::chmod(path.c_str(), 0644);
  return Status::Ok();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string FindProot() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  dirs += ":/usr/bin:/bin";
  size_t i = 0;
  while (i <= dirs.size()) {
    size_t j = dirs.find(':', i);
    if (j == std::string::npos) j = dirs.size();
    std::string d = dirs.substr(i, j - i);
    if (!d.empty() && d[0] == '/') {
      std::string p = d + "/proot";
      if (::access(p.c_str(), X_OK) == 0) return p;
    }
    i = j + 1;
  }
  return "";
}

// The user-namespace probe runs once per process.
const Status& UsernsProbe() {
  static std::once_flag once;
  static Status status;
  std::call_once(once, [] { status = ProbeNamespaces(true); });
  return status;
}

}  // namespace

std::string_view IsolationName(Isolation isolation) {
  switch (isolation) {
    case Isolation::kAuto:
      return "auto";
    case Isolation::kUserns:
      return "userns";
    case Isolation::kRoot:
      return "root";
    case Isolation::kProot:
      return "proot";
  }
  return "?";
}

Result<Isolation> ParseIsolation(std::string_view name) {
  for (Isolation i : {Isolation::kAuto, Isolation::kUserns, Isolation::kRoot, Isolation::kProot}) {
    if (name == IsolationName(i)) return i;
  }
  return Status(Code::kInvalidArgument, "unknown isolation \"" + std::string(name) +
                                            "\" (want auto, userns, root or proot)");
}

Result<std::unique_ptr<Sandbox>> MakeSandbox(Isolation isolation, std::string* notice) {
  if (notice != nullptr) notice->clear();
  const std::string proot = FindProot();
  switch (isolation) {
    case Isolation::kUserns:
      if (!UsernsProbe().ok()) return UsernsProbe();
      return NewNamespaceSandbox(true);
    case Isolation::kRoot: {
      Status s = ProbeNamespaces(false);
      if (!s.ok()) return s;
      return NewNamespaceSandbox(false);
    }
    case Isolation::kProot:
      if (proot.empty()) {
        return Status(Code::kUnsupported, "proot is not installed (apt-get install proot)");
      }
      return NewProotSandbox(proot);
    case Isolation::kAuto:
      break;
  }
  const Status& userns = UsernsProbe();
  if (userns.ok()) return NewNamespaceSandbox(true);
  std::string why = userns.message();
  if (::geteuid() == 0) {
    Status root = ProbeNamespaces(false);
    if (root.ok()) return NewNamespaceSandbox(false);
    why += "; " + root.message();
  }
  if (proot.empty()) {
    return Status(Code::kUnsupported, "cannot sandbox RUN steps: " + why +
                                          "; and proot is not installed (apt-get install proot)");
  }
  if (notice != nullptr) {
    *notice = "RUN steps run under proot (slower; no network or PID isolation): " + why;
  }
  return NewProotSandbox(proot);
}

Status Sandbox::RemoveTree(const std::string& path) {
  return store::RemoveTree(path);
}

Result<std::unique_ptr<EtcFiles>> EtcFiles::Make(const RunSpec& spec) {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(tmp != nullptr && tmp[0] == '/' ? tmp : "/tmp") + "/hoist-run-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) return ErrnoStatus("mkdtemp", tmpl);
  std::unique_ptr<EtcFiles> files(new EtcFiles(buf.data()));
  ::chmod(files->dir().c_str(), 0755);
  std::string hosts = spec.hosts_file;
  if (hosts.empty()) {
    hosts = kDefaultHosts;
    if (!spec.hostname.empty()) hosts += "127.0.1.1\t" + spec.hostname + "\n";
  }
  std::string resolv = spec.resolv_conf.empty() ? ReadFile("/etc/resolv.conf") : spec.resolv_conf;
  HOIST_RETURN_IF_ERROR(WriteFile(files->hosts(), hosts));
  HOIST_RETURN_IF_ERROR(WriteFile(files->resolv_conf(), resolv));
  return files;
}

EtcFiles::~EtcFiles() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Result<std::string> CheckSpec(const RunSpec& spec) {
  if (spec.argv.empty() || spec.argv[0].empty()) {
    return Status(Code::kInvalidArgument, "sandbox: no command to run");
  }
  if (spec.cwd.empty() || spec.cwd[0] != '/') {
    return Status(Code::kInvalidArgument,
                  "sandbox: working directory \"" + spec.cwd + "\" is not absolute");
  }
  for (const Mount& m : spec.mounts) {
    if (m.target.empty() || m.target[0] != '/') {
      return Status(Code::kInvalidArgument,
                    "sandbox: mount target \"" + m.target + "\" is not absolute");
    }
    if (m.type == Mount::Type::kBind && m.source.empty()) {
      return Status(Code::kInvalidArgument,
                    "sandbox: bind mount on " + m.target + " has no source");
    }
  }
  char real[PATH_MAX];
  if (::realpath(spec.rootfs.c_str(), real) == nullptr) {
    if (errno == ENOENT)
      return Status(Code::kNotFound, "sandbox: root " + spec.rootfs + " not found");
    return ErrnoStatus("realpath", spec.rootfs);
  }
  struct stat st {};
  if (::stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status(Code::kInvalidArgument, "sandbox: root " + spec.rootfs + " is not a directory");
  }
  if (std::string(real) == "/") {
    return Status(Code::kInvalidArgument, "sandbox: the host's / cannot be a step's root");
  }
  return std::string(real);
}

void ExecFailed(const std::string& file, int err, OutputLines& out, RunResult* result) {
  std::string why = err == ENOENT && file.find('/') == std::string::npos
                        ? "executable file not found in $PATH"
                        : std::strerror(err);
  out.Add("exec \"" + file + "\": " + why);
  result->exit_code = err == ENOENT ? 127 : 126;
  result->signal = 0;
}

}  // namespace hoist::sandbox
