#include "builder/sandbox/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <set>

#include "builder/layer/extract.h"
#include "builder/sandbox/supervise.h"
#include "sandbox/helpers.h"

namespace hoist::sandbox {
namespace {

using namespace test;
using Clock = std::chrono::steady_clock;

bool Namespaced(Isolation i) {
  return i != Isolation::kProot;
}

// True when some process's command line contains `token`.
bool ProcessWith(const std::string& token) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc", ec)) {
    std::string cmd = ReadFile(e.path().string() + "/cmdline");
    if (cmd.find(token) != std::string::npos && e.path().filename() != "self") return true;
  }
  return false;
}

std::string Xattr(const std::string& path, const std::string& name) {
  char buf[256];
  ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), buf, sizeof buf);
  return n < 0 ? "" : std::string(buf, static_cast<size_t>(n));
}

TEST_CASE("isolation names parse and print", "[sandbox]") {
  for (Isolation i : {Isolation::kAuto, Isolation::kUserns, Isolation::kRoot, Isolation::kProot}) {
    Result<Isolation> p = ParseIsolation(IsolationName(i));
    REQUIRE(p.ok());
    CHECK(*p == i);
  }
  Result<Isolation> bad = ParseIsolation("chroot");
  REQUIRE(!bad.ok());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK(bad.status().message().find("userns") != std::string::npos);
}

TEST_CASE("id maps translate both ways and subordinate ranges are found", "[sandbox]") {
  IdMap m = IdMap::SingleRoot(1000, 1001);
  CHECK(m.single());
  CHECK(m.HostUid(0) == 1000u);
  CHECK(!m.HostUid(1).has_value());
  CHECK(m.ContainerGid(1001) == 0u);
  m.uids.push_back({1, 100000, 65536});
  CHECK(!m.single());
  CHECK(m.HostUid(1000) == 100999u);
  CHECK(m.ContainerUid(100999) == 1000u);
  CHECK(!m.ContainerUid(200000).has_value());
  CHECK(MapText(m.uids) == "0 1000 1\n1 100000 65536\n");
  CHECK(IdMap::Identity().ContainerUid(4242) == 4242u);

  std::string subuid = "# comment\nalice:100000:65536\n1000:300000:10\nbad:line\nbob:x:5\n";
  CHECK(FindSubordinate(subuid, "alice", 7)->outside == 100000u);
  CHECK(FindSubordinate(subuid, "carol", 1000)->outside == 300000u);
  CHECK(FindSubordinate(subuid, "carol", 1000)->inside == 1u);
  CHECK(!FindSubordinate(subuid, "bob", 5).has_value());
}

TEST_CASE("output lines are split, long lines cut, and the tail bounded", "[sandbox]") {
  std::vector<std::string> got;
  OutputLines out([&](std::string_view l) { got.emplace_back(l); });
  std::string feed = "one\ntw";
  out.Feed(feed.data(), feed.size());
  CHECK(got == std::vector<std::string>{"one"});
  out.Feed("o\n", 2);
  std::string big(70 * 1024, 'x');
  out.Feed(big.data(), big.size());
  out.Feed("\n", 1);
  out.Add("last");
  REQUIRE(got.size() == 5);
  CHECK(got[1] == "two");
  CHECK(got[2].size() == 64 * 1024);
  CHECK(got[3].size() == 6 * 1024);
  CHECK(got[4] == "last");
  CHECK(out.Tail().size() <= 4096 + 20);
  CHECK(out.Tail().find("last\n") != std::string::npos);
}

TEST_CASE("auto picks a working isolation", "[sandbox][isolation]") {
  std::string notice = "stale";
  Result<std::unique_ptr<Sandbox>> sb = MakeSandbox(Isolation::kAuto, &notice);
  REQUIRE(sb.ok());
  if ((*sb)->isolation() == Isolation::kProot) {
    CHECK(notice.find("proot") != std::string::npos);
  } else {
    CHECK(notice.empty());
  }
  REQUIRE(!Available().empty());
}

TEST_CASE("exit codes and signals propagate", "[sandbox][isolation]") {
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    Step ok(root, "exit 0");
    CHECK(MustRun(sb, ok).ok());
    Step seven(root, "echo failing; exit 7");
    RunResult r = MustRun(sb, seven);
    CHECK(r.exit_code == 7);
    CHECK(r.signal == 0);
    CHECK(r.tail == "failing\n");
    Step killed(root, "kill -9 $$");
    r = MustRun(sb, killed);
    CHECK(r.signal == SIGKILL);
    CHECK(!r.ok());
    // A child killed by a signal is not the step killed by one.
    Step child(root, "sleep 5 & kill -9 $!; wait; sleep 0.3; exit 4");
    r = MustRun(sb, child);
    CHECK(r.signal == 0);
    CHECK(r.exit_code == 4);
  });
}

TEST_CASE("the step sees its env, working directory and user", "[sandbox][isolation]") {
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    Step s(root, "id -u; id -g; pwd; echo \"$FOO\"; env | sort");
    s.spec.cwd = "/work";
    s.spec.env.push_back("FOO=bar baz");
    RunOk(sb, s);
    REQUIRE(s.lines.size() >= 4);
    CHECK(s.lines[0] == "0");
    CHECK(s.lines[1] == "0");
    CHECK(s.lines[2] == "/work");
    CHECK(s.lines[3] == "bar baz");
    // Exactly the spec's variables (sh adds PWD, SHLVL).
    std::set<std::string> env(s.lines.begin() + 4, s.lines.end());
    CHECK(env.count("FOO=bar baz") == 1);
    CHECK(env.count("HOME=/root") == 1);
    for (const std::string& v : env) {
      std::string name = v.substr(0, v.find('='));
      CHECK((name == "FOO" || name == "HOME" || name == "PATH" || name == "PWD" ||
             name == "SHLVL" || name == "_"));
    }

    // Another user, where the id map has it.
    Step other(root, "id -u; id -g; touch /tmp/mine; stat -c %u:%g /tmp/mine");
    other.spec.uid = 65534;
    other.spec.gid = 65534;
    Result<RunResult> o = sb.Run(other.spec);
    INFO(o.status().ToString());
    if (i == Isolation::kUserns && sb.ids().single()) {
      REQUIRE(!o.ok());
      CHECK(o.status().code() == Code::kInvalidArgument);
      CHECK(o.status().message().find("subuid") != std::string::npos);
    } else {
      REQUIRE(o.ok());
      CHECK(o->ok());
      REQUIRE(other.lines.size() == 3);
      CHECK(other.lines[0] == "65534");
      CHECK(other.lines[1] == "65534");
      if (Namespaced(i)) CHECK(other.lines[2] == "65534:65534");
    }
    ::unlink((root + "/tmp/mine").c_str());
  });
}

TEST_CASE("output is streamed line by line while the step runs", "[sandbox][isolation]") {
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    std::vector<std::pair<std::string, Clock::time_point>> seen;
    Step s(root, "echo first; echo to-stderr >&2; sleep 1; printf 'second\\nno-newline'");
    s.spec.on_output = [&](std::string_view l) { seen.emplace_back(l, Clock::now()); };
    RunResult r = MustRun(sb, s);
    CHECK(r.ok());
    REQUIRE(seen.size() == 4);
    CHECK(seen[0].first == "first");
    CHECK(seen[1].first == "to-stderr");
    CHECK(seen[2].first == "second");
    CHECK(seen[3].first == "no-newline");
    CHECK(seen[2].second - seen[0].second > std::chrono::milliseconds(700));
    CHECK(r.tail == "first\nto-stderr\nsecond\nno-newline\n");
  });
}

TEST_CASE("a write to / lands in the root, and the sandbox leaves no trace there",
          "[sandbox][isolation]") {
  const std::string token = "hoist-sandbox-" + std::to_string(::getpid());
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    Step s(root, "echo hi > /" + token + " && mkdir -p /var/lib/x && echo y > /var/lib/x/y");
    RunOk(sb, s);
    CHECK(ReadFile(root + "/" + token) == "hi\n");
    CHECK(ReadFile(root + "/var/lib/x/y") == "y\n");
    CHECK(!Exists("/" + token));
    // Mountpoints the sandbox made are gone again.
    CHECK(!Exists(root + "/proc"));
    CHECK(!Exists(root + "/dev"));
    CHECK(!Exists(root + "/etc/hosts"));
    CHECK(!Exists(root + "/etc/resolv.conf"));
    REQUIRE(Sh("rm -rf '" + root + "/" + token + "' '" + root + "/var'").code == 0);
  });
}

TEST_CASE("hosts, resolv.conf, hostname and /dev are provided", "[sandbox][isolation]") {
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    Step s(root,
           "cat /etc/hosts /etc/resolv.conf; echo x > /dev/null; head -c 5 /dev/zero | wc -c; "
           "head -c 5 /dev/urandom | wc -c; echo shm > /dev/shm/f && cat /dev/shm/f; hostname");
    s.spec.hosts_file = "10.1.2.3 registry.test\n";
    s.spec.resolv_conf = "nameserver 10.9.9.9\n";
    s.spec.hostname = "steppy";
    RunResult r = MustRun(sb, s);
    INFO(s.Output());
    CHECK(r.ok());
    REQUIRE(s.lines.size() >= 6);
    CHECK(s.lines[0] == "10.1.2.3 registry.test");
    CHECK(s.lines[1] == "nameserver 10.9.9.9");
    CHECK(s.lines[2] == "5");
    CHECK(s.lines[3] == "5");
    CHECK(s.lines[4] == "shm");
    if (Namespaced(i)) CHECK(s.lines[5] == "steppy");
    // /sys, where the root has the directory: there and read-only.
    REQUIRE(::mkdir((root + "/sys").c_str(), 0555) == 0);
    Step sys(root,
             "test -d /sys/class && echo class; grep -q ' /sys .*ro[,a-z]*' "
             "/proc/mounts && echo read-only");
    RunResult sr = MustRun(sb, sys);
    if (Namespaced(i)) {
      CHECK(sr.ok());
      CHECK(sys.lines == std::vector<std::string>{"class", "read-only"});
    }
    REQUIRE(::rmdir((root + "/sys").c_str()) == 0);
    // An existing /etc/hosts in the root is hidden, not changed.
    WriteFile(root + "/etc/hosts", "image's own\n");
    Step h(root, "cat /etc/hosts; echo appended >> /etc/hosts");
    RunOk(sb, h);
    CHECK(h.lines.at(0) == "127.0.0.1\tlocalhost");
    CHECK(ReadFile(root + "/etc/hosts") == "image's own\n");
    ::unlink((root + "/etc/hosts").c_str());
  });
}

TEST_CASE("the step sees only its own processes", "[sandbox][isolation]") {
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    if (!Namespaced(i)) return;  // proot shares the host's /proc
    Step s(root, "for p in /proc/[0-9]*; do echo ${p#/proc/}; done");
    RunOk(sb, s);
    CHECK(s.lines == std::vector<std::string>{"1", "2"});
  });
}

TEST_CASE("background processes die with the step", "[sandbox][isolation]") {
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    const std::string token =
        "bg-token-" + std::to_string(::getpid()) + "-" + std::string(IsolationName(i));
    // One holds the output pipe, one does not.
    Step s(root, "(sleep 30; echo " + token + ") & (sleep 31; echo " + token +
                     ") >/dev/null 2>&1 & echo started; exit 3");
    auto t0 = Clock::now();
    RunResult r = MustRun(sb, s);
    CHECK(Clock::now() - t0 < std::chrono::seconds(10));
    CHECK(r.exit_code == 3);
    CHECK(s.lines == std::vector<std::string>{"started"});
    bool alive = true;
    for (int k = 0; k < 20 && alive; ++k) {
      alive = ProcessWith(token);
      if (alive) ::usleep(100000);
    }
    CHECK(!alive);
  });
}

TEST_CASE("a timeout or a cancellation kills the step", "[sandbox][isolation]") {
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    Step s(root, "echo going; sleep 30");
    s.spec.timeout = std::chrono::milliseconds(700);
    auto t0 = Clock::now();
    RunResult r = MustRun(sb, s);
    CHECK(Clock::now() - t0 < std::chrono::seconds(5));
    CHECK(r.timed_out);
    CHECK(r.signal == SIGKILL);
    CHECK(r.tail == "going\n");

    std::atomic<bool> cancel{false};
    Step c(root, "echo going; sleep 30");
    c.spec.cancel = &cancel;
    c.spec.on_output = [&](std::string_view) { cancel = true; };
    t0 = Clock::now();
    r = MustRun(sb, c);
    CHECK(Clock::now() - t0 < std::chrono::seconds(5));
    CHECK(r.cancelled);
    CHECK(!r.timed_out);
    CHECK(r.signal == SIGKILL);
  });
}

TEST_CASE("network none has only the loopback interface", "[sandbox][isolation]") {
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    Step s(root,
           "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; ip link show lo | grep -c UP");
    s.spec.network = RunSpec::Network::kNone;
    Result<RunResult> r = sb.Run(s.spec);
    if (!Namespaced(i)) {
      REQUIRE(!r.ok());
      CHECK(r.status().code() == Code::kUnsupported);
      return;
    }
    REQUIRE(r.ok());
    CHECK(r->ok());
    CHECK(s.lines == std::vector<std::string>{"lo", "1"});
  });
}

TEST_CASE("a command that cannot run is exit 127 or 126 with the reason", "[sandbox][isolation]") {
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    WriteFile(root + "/work/noexec", "#!/bin/sh\n");
    Step s(root, "");
    s.spec.argv = {"no-such-command", "arg"};
    RunResult r = MustRun(sb, s);
    CHECK(r.exit_code == 127);
    if (Namespaced(i)) {
      CHECK(r.tail == "exec \"no-such-command\": executable file not found in $PATH\n");
    }
    Step n(root, "");
    n.spec.argv = {"/work/noexec"};
    r = MustRun(sb, n);
    CHECK(r.exit_code == 126);

    Step missing(root, "true");
    missing.spec.cwd = "/does/not/exist";
    Result<RunResult> m = sb.Run(missing.spec);
    REQUIRE(!m.ok());
    CHECK(m.status().code() == Code::kNotFound);
    Step empty(root, "");
    empty.spec.argv.clear();
    CHECK(sb.Run(empty.spec).status().code() == Code::kInvalidArgument);
  });
}

TEST_CASE("bind and tmpfs mounts are there during the step only", "[sandbox][isolation]") {
  TempDir host;
  WriteFile(host / "data.txt", "from the host\n");
  REQUIRE(Sh("mkdir -p '" + host.path() + "/cache'").code == 0);
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    Step s(root,
           "cat /mnt/ro/data.txt; (echo changed > /mnt/ro/data.txt) 2>/dev/null; "
           "echo more >> /cache/log; echo tmp > /scratch/t && cat /scratch/t");
    s.spec.mounts = {{Mount::Type::kBind, host.path(), "/mnt/ro", true, 0},
                     {Mount::Type::kBind, host / "cache", "/cache", false, 0},
                     {Mount::Type::kTmpfs, "", "/scratch", false, 1 << 20}};
    RunResult r = MustRun(sb, s);
    INFO(s.Output());
    CHECK(r.ok());
    CHECK(s.lines == std::vector<std::string>{"from the host", "tmp"});
    CHECK(ReadFile(host / "data.txt") == "from the host\n");
    CHECK(ReadFile(host / "cache/log") == "more\n");
    CHECK(!Exists(root + "/mnt"));
    CHECK(!Exists(root + "/scratch"));
    CHECK(!Exists(root + "/cache"));
    ::unlink((host / "cache/log").c_str());
  });
}

TEST_CASE("chown is real where it can be, else recorded in the owner xattr",
          "[sandbox][isolation]") {
  const std::string owner(layer::kOwnerXattr);
  ForEachIsolation([&]([[maybe_unused]] Isolation i, Sandbox& sb, const std::string& root) {
    Step s(root,
           "mkdir -p /work/d && touch /work/d/f /work/g /work/h && cd /work && "
           "chown 1000:1001 d/f && chown 7 /work/g && chown 7:8 /work/g && chown -R 5:6 d && "
           "chown 9:9 h && chown 0:0 h && ln -s g /work/l && chown -h 3 /work/l && echo done");
    RunResult r = RunOk(sb, s);
    CHECK(s.lines.back() == "done");
    const std::string w = root + "/work";
    const bool real = sb.ids().HostUid(1000).has_value() && sb.ids().HostUid(5).has_value();
    if (real) {
      CHECK(r.owners.recorded == 0);
      CHECK(r.owners.lost == 0);
      auto host = [&](uint32_t uid, uint32_t gid) {
        return std::to_string(*sb.ids().HostUid(uid)) + ":" +
               std::to_string(*sb.ids().HostGid(gid)) + "\n";
      };
      CHECK(Sh("stat -c %u:%g '" + w + "/d/f' '" + w + "/g' '" + w + "/h'").out ==
            host(5, 6) + host(7, 8) + host(0, 0));
    } else {
      CHECK(!r.owners.unwatched);
      CHECK(Xattr(w + "/d/f", owner) == "5:6");
      CHECK(Xattr(w + "/d", owner) == "5:6");
      CHECK(Xattr(w + "/g", owner) == "7:8");
      CHECK(Xattr(w + "/h", owner) == "");
      CHECK(r.owners.lost == 1);
      CHECK(r.owners.lost_paths == std::vector<std::string>{"/work/l"});
      CHECK(r.owners.recorded >= 6);
    }
    Step clean(root, "rm -rf /work/*");
    RunOk(sb, clean);
  });
}

// Re-runs the [isolation] tests of this binary as nobody (65534).
int RunAsNobody(const std::string& extra_env, std::string* out) {
  char self[4096];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  REQUIRE(n > 0);
  self[n] = '\0';
  layer::test::Run r =
      Sh("cd /tmp && setpriv --reuid=65534 --regid=65534 --clear-groups "
         "env -i PATH=/usr/bin:/bin:/usr/sbin:/sbin TMPDIR=/tmp HOME=/tmp " +
         extra_env + " '" + std::string(self) + "' '[isolation]' 2>&1");
  *out = r.out;
  return r.code;
}

TEST_CASE("the isolation tests pass for an unprivileged user", "[sandbox][unprivileged]") {
  if (::geteuid() != 0) {
    WARN("not root: the [isolation] tests already ran unprivileged");
    return;
  }
  REQUIRE(layer::test::HaveTool("setpriv"));
  std::string out;
  int code = RunAsNobody("", &out);
  INFO(out.substr(out.size() > 6000 ? out.size() - 6000 : 0));
  CHECK(code == 0);
}

// Puts a file back as it was when the scope ends.
class Restore {
 public:
  explicit Restore(std::string path) : path_(std::move(path)), had_(Exists(path_)) {
    if (had_) data_ = ReadFile(path_);
  }
  ~Restore() {
    if (had_) {
      WriteFile(path_, data_);
    } else {
      ::unlink(path_.c_str());
    }
  }

 private:
  std::string path_;
  bool had_;
  std::string data_;
};

TEST_CASE("the isolation tests pass for an unprivileged user with a subordinate id range",
          "[sandbox][unprivileged]") {
  if (::geteuid() != 0 || !layer::test::HaveTool("newuidmap")) {
    WARN("needs root (to grant nobody a range) and newuidmap (Debian package uidmap)");
    return;
  }
  Restore subuid("/etc/subuid"), subgid("/etc/subgid");
  for (const char* f : {"/etc/subuid", "/etc/subgid"}) {
    std::string text = Exists(f) ? ReadFile(f) : "";
    WriteFile(f, text + "nobody:200000:65536\n");
  }
  std::string out;
  int code = RunAsNobody("", &out);
  INFO(out.substr(out.size() > 6000 ? out.size() - 6000 : 0));
  CHECK(code == 0);
}

// Runs this binary's [fallback] tests as `uid` in a user namespace that may
// not nest another one (user.max_user_namespaces=0 there), the way a CI
// container blocks namespaces. Returns their exit code and output.
int RunWithoutUserns(uid_t uid, std::string* out) {
  char self[4096];
  ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  REQUIRE(len > 0);
  self[len] = '\0';
  int output[2], ready[2], go[2];
  REQUIRE(::pipe(output) == 0);
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(go) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    char c = 0;
    if (::unshare(CLONE_NEWUSER) != 0 || ::write(ready[1], &c, 1) != 1 ||
        ::read(go[0], &c, 1) != 1) {
      ::_exit(90);
    }
    int fd = ::open("/proc/sys/user/max_user_namespaces", O_WRONLY);
    if (fd < 0 || ::write(fd, "0", 1) != 1) ::_exit(91);
    ::close(fd);
    if (::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(92);
    ::dup2(output[1], 1);
    ::dup2(output[1], 2);
    ::execl(self, self, "[fallback]", static_cast<char*>(nullptr));
    ::_exit(93);
  }
  ::close(output[1]);
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  for (const char* map : {"uid_map", "gid_map"}) {
    WriteFile("/proc/" + std::to_string(pid) + "/" + map, "0 0 65536\n");
  }
  REQUIRE(::write(go[1], &c, 1) == 1);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(output[0], buf, sizeof buf)) > 0) out->append(buf, static_cast<size_t>(n));
  for (int fd : {output[0], ready[0], ready[1], go[0], go[1]}) ::close(fd);
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

TEST_CASE("without user namespaces auto falls back, and a forced userns says why",
          "[sandbox][unprivileged]") {
  if (::geteuid() != 0) {
    WARN("needs root to set up a namespace without nested user namespaces");
    return;
  }
  for (uid_t uid : {0u, 65534u}) {
    INFO("uid " << uid);
    std::string out;
    CHECK(RunWithoutUserns(uid, &out) == 0);
    INFO(out.substr(out.size() > 6000 ? out.size() - 6000 : 0));
    CHECK(out.find("All tests passed") != std::string::npos);
  }
}

// Run by the test above, inside its namespace.
TEST_CASE("inside a namespace without nested user namespaces", "[.fallback]") {
  Result<std::unique_ptr<Sandbox>> userns = MakeSandbox(Isolation::kUserns);
  REQUIRE(!userns.ok());
  CHECK(userns.status().code() == Code::kUnsupported);
  CHECK(userns.status().message().find("user.max_user_namespaces=0") != std::string::npos);
  std::string notice;
  Result<std::unique_ptr<Sandbox>> sb = MakeSandbox(Isolation::kAuto, &notice);
  REQUIRE(sb.ok());
  if (::geteuid() == 0) {
    CHECK((*sb)->isolation() == Isolation::kRoot);
    CHECK(notice.empty());
  } else {
    CHECK((*sb)->isolation() == Isolation::kProot);
    CHECK(notice.find("proot") != std::string::npos);
    CHECK(notice.find("user.max_user_namespaces=0") != std::string::npos);
  }
  TempDir dir;
  MakeBusyboxRoot(dir.path());
  Step s(dir.path(), "id -u; touch /made");
  RunOk(**sb, s);
  CHECK(s.lines == std::vector<std::string>{"0"});
  CHECK(Exists(dir.path() + "/made"));
}

}  // namespace
}  // namespace hoist::sandbox
