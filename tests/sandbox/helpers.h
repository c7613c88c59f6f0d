// Helpers for the sandbox and snapshot tests: a busybox root made offline,
// the isolations that work on this machine, and running a step.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "builder/sandbox/sandbox.h"
#include "builder/sandbox/snapshot.h"
#include "layer/helpers.h"

namespace hoist::sandbox::test {

using layer::test::Exists;
using layer::test::ReadFile;
using layer::test::Sh;
using layer::test::TempDir;
using layer::test::WriteFile;

inline const char* kPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// A root with Debian's static busybox as /bin/busybox and every applet as a
// relative symlink to it; /etc/passwd, /etc/group, /tmp, /root, /work.
// No /proc, /dev or /etc/hosts: the sandbox makes them.
inline void MakeBusyboxRoot(const std::string& root) {
  REQUIRE(Sh("chmod 755 '" + root + "' && mkdir -p '" + root + "/bin' '" + root + "/etc' '" + root +
             "/root' '" + root + "/work' '" + root + "/tmp' && chmod 1777 '" + root +
             "/tmp' && cp /bin/busybox '" + root + "/bin/busybox'")
              .code == 0);
  REQUIRE(Sh("cd '" + root +
             "/bin' && for a in $(./busybox --list); do [ \"$a\" = busybox ] || "
             "ln -s busybox \"$a\"; done")
              .code == 0);
  WriteFile(root + "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  WriteFile(root + "/etc/group", "root:x:0:\nnogroup:x:65534:\n");
}

// The isolations MakeSandbox grants here (forced, one by one).
inline std::vector<Isolation> Available() {
  std::vector<Isolation> out;
  for (Isolation i : {Isolation::kUserns, Isolation::kRoot, Isolation::kProot}) {
    if (MakeSandbox(i).ok()) out.push_back(i);
  }
  return out;
}

inline std::unique_ptr<Sandbox> Make(Isolation i) {
  Result<std::unique_ptr<Sandbox>> s = MakeSandbox(i);
  REQUIRE(s.ok());
  return std::move(*s);
}

// Runs `body` once for each available isolation, over one busybox root.
template <class Body>
void ForEachIsolation(Body body) {
  TempDir dir;
  MakeBusyboxRoot(dir.path());
  for (Isolation i : Available()) {
    INFO("isolation " << IsolationName(i));
    std::unique_ptr<Sandbox> sb = Make(i);
    body(i, *sb, dir.path());
  }
}

// A spec running `script` with /bin/sh -c in `root`, output collected.
struct Step {
  RunSpec spec;
  std::vector<std::string> lines;
  Step(const std::string& root, const std::string& script) {
    spec.rootfs = root;
    spec.argv = {"/bin/sh", "-c", script};
    spec.env = {kPath, "HOME=/root"};
    spec.timeout = std::chrono::seconds(60);
    spec.on_output = [this](std::string_view l) { lines.emplace_back(l); };
  }
  std::string Output() const {
    std::string s;
    for (const std::string& l : lines) s += l + "\n";
    return s;
  }
};

inline RunResult MustRun(Sandbox& sb, Step& step) {
  Result<RunResult> r = sb.Run(step.spec);
  INFO("isolation " << sb.Name() << ": " << r.status().ToString());
  REQUIRE(r.ok());
  return std::move(r.value());
}

// MustRun, and the step must succeed (its output explains a failure).
inline RunResult RunOk(Sandbox& sb, Step& step) {
  RunResult r = MustRun(sb, step);
  INFO(step.Output());
  REQUIRE(r.ok());
  return r;
}

}  // namespace hoist::sandbox::test
