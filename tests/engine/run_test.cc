// RUN's pieces without a sandbox (builder/engine/run.h) and the live root's
// copy (rootfs.h, CopyTree): argv, environment, history text, users,
// secrets, context mirrors.
#include "builder/engine/run.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <variant>

#include "builder/engine/rootfs.h"
#include "tests/engine/helpers.h"

namespace hoist::engine {
namespace {

using test::TempDir;

dockerfile::CommandLine RunLine(const std::string& dockerfile_run) {
  std::vector<dockerfile::Command> cmds = test::StageCommands("FROM scratch\n" + dockerfile_run);
  REQUIRE(cmds.size() == 1);
  return std::get<dockerfile::RunCommand>(cmds[0]).cmdline;
}

TEST_CASE("run: argv of the shell and exec forms, with SHELL", "[run]") {
  Result<RunArgv> shell = BuildRunArgv(RunLine("RUN echo  a  b\n"), {});
  REQUIRE(shell.ok());
  CHECK(shell->argv == std::vector<std::string>{"/bin/sh", "-c", "echo  a  b"});
  Result<RunArgv> bash =
      BuildRunArgv(RunLine("RUN echo a\n"), {"/bin/bash", "-eo", "pipefail", "-c"});
  REQUIRE(bash.ok());
  CHECK(bash->argv == std::vector<std::string>{"/bin/bash", "-eo", "pipefail", "-c", "echo a"});
  Result<RunArgv> exec =
      BuildRunArgv(RunLine("RUN [\"/bin/echo\", \"a b\"]\n"), {"/bin/bash", "-c"});
  REQUIRE(exec.ok());
  CHECK(exec->argv == std::vector<std::string>{"/bin/echo", "a b"});
  CHECK(!exec->script);
}

TEST_CASE("run: heredocs run through the shell, or as a script with a shebang", "[run]") {
  Result<RunArgv> body = BuildRunArgv(RunLine("RUN <<EOT\necho one\necho two\nEOT\n"), {});
  REQUIRE(body.ok());
  CHECK(body->argv == std::vector<std::string>{"/bin/sh", "-c", "echo one\necho two\n"});
  CHECK(!body->script);

  Result<RunArgv> script =
      BuildRunArgv(RunLine("RUN <<EOT\n#!/usr/bin/env python3\nprint(1)\nEOT\n"), {});
  REQUIRE(script.ok());
  CHECK(script->argv == std::vector<std::string>{"/dev/pipes/EOT"});
  REQUIRE(script->script);
  CHECK(script->script->data == "#!/usr/bin/env python3\nprint(1)\n");

  // A heredoc fed to a command: the shell reads it.
  Result<RunArgv> fed = BuildRunArgv(RunLine("RUN cat <<EOT > /x\nhello\nEOT\n"), {});
  REQUIRE(fed.ok());
  CHECK(fed->argv == std::vector<std::string>{"/bin/sh", "-c", "cat <<EOT > /x\nhello\nEOT"});

  // <<- strips leading tabs.
  Result<RunArgv> chomped = BuildRunArgv(RunLine("RUN <<-EOT\n\techo tab\n\tEOT\n"), {});
  REQUIRE(chomped.ok());
  CHECK(chomped->argv.back() == "echo tab\n");
}

TEST_CASE("run: ARG values reach the step; ENV after an ARG wins, an ARG after ENV wins", "[run]") {
  RunArgs args;
  args.Declare("A", std::string("arg-a"));
  args.Declare("B", std::string("arg-b"));
  args.Declare("NOVALUE", std::nullopt);
  args.EnvSet("B");  // ENV B=... after ARG B
  std::vector<std::string> env = {"PATH=/bin", "B=env-b"};
  std::vector<std::string> got = args.Environment(env, {{"HTTP_PROXY", "http://proxy"}});
  CHECK(got ==
        std::vector<std::string>{"PATH=/bin", "B=env-b", "A=arg-a", "HTTP_PROXY=http://proxy"});
  CHECK(args.HistoryText({"/bin/sh", "-c", "make"}, env) ==
        "|3 A=arg-a B=env-b NOVALUE= /bin/sh -c make");

  args.Declare("B", std::string("arg-again"));  // ARG B after the ENV
  got = args.Environment(env, {});
  CHECK(got[1] == "B=arg-again");
  CHECK(got.back() == "A=arg-a");

  // PATH is added when the image has none; a child stage keeps the values
  // but not the history list.
  RunArgs child = args.ForChildStage();
  CHECK(child.HistoryText({"/bin/true"}, {}) == "/bin/true");
  std::vector<std::string> bare = child.Environment({}, {});
  CHECK(std::find(bare.begin(), bare.end(), "A=arg-a") != bare.end());
  CHECK(std::find_if(bare.begin(), bare.end(), [](const std::string& e) {
          return e.rfind("PATH=/usr/local/sbin:", 0) == 0;
        }) != bare.end());
}

TEST_CASE("run: USER resolves through the root's passwd and group as runc does", "[run]") {
  TempDir t;
  t.Write("root/etc/passwd",
          "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001:App:/home/app:/bin/sh\n");
  t.Write("root/etc/group", "root:x:0:\napp:x:1001:\nextra:x:1500:app,other\nnone:x:1600:other\n");
  std::string root = t.path() + "/root";

  Result<ExecUser> def = ResolveExecUser("", root);
  REQUIRE(def.ok());
  CHECK(def->uid == 0);
  CHECK(def->home == "/root");

  Result<ExecUser> app = ResolveExecUser("app", root);
  REQUIRE(app.ok());
  CHECK(app->uid == 1000);
  CHECK(app->gid == 1001);
  CHECK(app->home == "/home/app");
  CHECK(app->groups == std::vector<uint32_t>{1500});

  Result<ExecUser> numeric = ResolveExecUser("1000", root);  // found by uid
  REQUIRE(numeric.ok());
  CHECK(numeric->gid == 1001);
  Result<ExecUser> unknown_uid = ResolveExecUser("4242", root);  // need not exist
  REQUIRE(unknown_uid.ok());
  CHECK(unknown_uid->gid == 0);
  CHECK(unknown_uid->home == "/");

  Result<ExecUser> with_group = ResolveExecUser("app:extra", root);
  REQUIRE(with_group.ok());
  CHECK(with_group->gid == 1500);
  CHECK(with_group->groups.empty());

  Result<ExecUser> nouser = ResolveExecUser("ghost", root);
  REQUIRE(!nouser.ok());
  CHECK(nouser.status().message() ==
        "unable to find user ghost: no matching entries in passwd file");
  Result<ExecUser> nogroup = ResolveExecUser("app:ghosts", root);
  REQUIRE(!nogroup.ok());
  CHECK(nogroup.status().message() ==
        "unable to find group ghosts: no matching entries in group file");

  // scratch: numeric ids and root only.
  CHECK(ResolveExecUser("", "").ok());
  CHECK(ResolveExecUser("12:34", "")->gid == 34);
  CHECK(!ResolveExecUser("app", "").ok());
}

TEST_CASE("run: --secret specs", "[run]") {
  Result<SecretSource> file = ParseSecretSpec("id=tok,src=/run/tok");
  REQUIRE(file.ok());
  CHECK(file->id == "tok");
  CHECK(file->path == "/run/tok");
  Result<SecretSource> env = ParseSecretSpec("id=tok,env=MY_TOKEN");
  REQUIRE(env.ok());
  CHECK(env->env == "MY_TOKEN");
  Result<SecretSource> bare = ParseSecretSpec("id=GITHUB_TOKEN");
  REQUIRE(bare.ok());
  CHECK(bare->env == "GITHUB_TOKEN");
  Result<SecretSource> typed = ParseSecretSpec("type=file,id=cfg");
  REQUIRE(typed.ok());
  CHECK(typed->path == "cfg");
  Result<SecretSource> no_id = ParseSecretSpec("src=/a/b/key.pem");
  REQUIRE(no_id.ok());
  CHECK(no_id->id == "key.pem");

  CHECK(!ParseSecretSpec("id=x,src=/a,env=B").ok());
  CHECK(!ParseSecretSpec("id=x,bogus=1").ok());
  CHECK(!ParseSecretSpec("id").ok());
  CHECK(!ParseSecretSpec("type=ssh,id=x").ok());

  TempDir t;
  t.Write("tok", "value");
  Result<std::string> data = ReadSecret({"tok", t.path() + "/tok", ""});
  REQUIRE(data.ok());
  CHECK(*data == "value");
  ::setenv("HOIST_TEST_SECRET", "from-env", 1);
  CHECK(*ReadSecret({"e", "", "HOIST_TEST_SECRET"}) == "from-env");
  ::unsetenv("HOIST_TEST_SECRET");
  CHECK(ReadSecret({"e", "", "HOIST_TEST_SECRET"}).status().code() == Code::kNotFound);
  CHECK(ReadSecret({"f", t.path() + "/missing", ""}).status().code() == Code::kNotFound);
}

TEST_CASE("run: a context mirror leaves out what .dockerignore excludes", "[run]") {
  TempDir t;
  t.Write("ctx/src/a.txt", "a");
  t.Write("ctx/src/skip.txt", "s");
  t.Write("ctx/src/sub/b.txt", "b");
  REQUIRE(::symlink("a.txt", (t.path() + "/ctx/src/link").c_str()) == 0);
  auto excluded = [](const std::string& rel) { return rel == "src/skip.txt"; };
  REQUIRE(MirrorTree(t.path() + "/ctx", "src", t.path() + "/ro", excluded, false).ok());
  CHECK(layer::test::ReadFile(t.path() + "/ro/a.txt") == "a");
  CHECK(layer::test::ReadFile(t.path() + "/ro/sub/b.txt") == "b");
  CHECK(!std::filesystem::exists(t.path() + "/ro/skip.txt"));
  CHECK(std::filesystem::read_symlink(t.path() + "/ro/link") == "a.txt");
  struct stat a, m;
  REQUIRE(::stat((t.path() + "/ctx/src/a.txt").c_str(), &a) == 0);
  REQUIRE(::stat((t.path() + "/ro/a.txt").c_str(), &m) == 0);
  CHECK(a.st_ino == m.st_ino);  // read-only: hard links

  REQUIRE(MirrorTree(t.path() + "/ctx", "src", t.path() + "/rw", excluded, true).ok());
  REQUIRE(::stat((t.path() + "/rw/a.txt").c_str(), &m) == 0);
  CHECK(a.st_ino != m.st_ino);  // writable: copies

  REQUIRE(MirrorTree(t.path() + "/ctx", "src/a.txt", t.path() + "/one", excluded, true).ok());
  CHECK(layer::test::ReadFile(t.path() + "/one") == "a");
  CHECK(!MirrorTree(t.path() + "/ctx", "nope", t.path() + "/none", excluded, false).ok());
}

TEST_CASE("run: the live root is a private copy that keeps hard links, modes and times", "[run]") {
  TempDir t;
  t.Write("src/dir/f", "content");
  REQUIRE(::link((t.path() + "/src/dir/f").c_str(), (t.path() + "/src/g").c_str()) == 0);
  REQUIRE(::symlink("dir/f", (t.path() + "/src/s").c_str()) == 0);
  REQUIRE(::chmod((t.path() + "/src/dir").c_str(), 0750) == 0);
  struct timespec times[2] = {{1000000, 0}, {1000000, 0}};
  REQUIRE(::utimensat(AT_FDCWD, (t.path() + "/src/dir/f").c_str(), times, 0) == 0);
  REQUIRE(CopyTree(t.path() + "/src", t.path() + "/dst").ok());

  struct stat f, g, src_f, d;
  REQUIRE(::stat((t.path() + "/dst/dir/f").c_str(), &f) == 0);
  REQUIRE(::stat((t.path() + "/dst/g").c_str(), &g) == 0);
  REQUIRE(::stat((t.path() + "/src/dir/f").c_str(), &src_f) == 0);
  CHECK(f.st_ino == g.st_ino);      // the hard link is kept in the copy
  CHECK(f.st_ino != src_f.st_ino);  // but the copy shares nothing with the source
  CHECK(f.st_mtime == 1000000);
  REQUIRE(::stat((t.path() + "/dst/dir").c_str(), &d) == 0);
  CHECK((d.st_mode & 07777) == 0750);
  CHECK(std::filesystem::read_symlink(t.path() + "/dst/s") == "dir/f");

  // Writing into the copy leaves the source alone.
  t.Write("dst/dir/f", "changed");
  CHECK(layer::test::ReadFile(t.path() + "/src/dir/f") == "content");
}

}  // namespace
}  // namespace hoist::engine
