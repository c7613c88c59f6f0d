// Helpers for the COPY/ADD planner and build-context tests: planning into
// a path-keyed map, a loopback HTTP server (python3's http.server, stopped
// by PID), git repositories made with the git CLI, file times.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "builder/engine/copy.h"
#include "tests/engine/helpers.h"

namespace hoist::engine::test {

using layer::test::ReadFile;
using layer::test::Sh;

// Single-quotes `s` for /bin/sh.
inline std::string Q(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline CopyRequest Req(std::vector<std::string> sources, std::string dest) {
  CopyRequest r;
  r.sources = std::move(sources);
  r.dest = std::move(dest);
  r.workdir = "/";
  return r;
}

// The planned entries by path; REQUIREs success.
inline std::map<std::string, layer::Entry> Entries(SourceTree& tree, const CopyRequest& req) {
  Result<CopyResult> r = PlanCopy(tree, req);
  INFO(r.status().ToString());
  REQUIRE(r.ok());
  std::map<std::string, layer::Entry> out;
  for (layer::Entry& e : r->entries) {
    std::string p = e.path;
    REQUIRE(out.count(p) == 0);
    out.emplace(p, std::move(e));
  }
  return out;
}

inline std::vector<std::string> Paths(const std::map<std::string, layer::Entry>& m) {
  std::vector<std::string> out;
  for (const auto& [p, e] : m) out.push_back(p);
  return out;
}

inline std::unique_ptr<SourceTree> Context(const std::string& dir,
                                           const std::string& ignore_text = "",
                                           const std::string& index = "") {
  Result<dockerfile::DockerIgnore> di = dockerfile::DockerIgnore::Parse(ignore_text);
  REQUIRE(di.ok());
  Result<std::unique_ptr<SourceTree>> t = OpenDirectoryTree("context", dir, *di, index);
  INFO(t.status().ToString());
  REQUIRE(t.ok());
  return std::move(*t);
}

// Sets a path's mtime (seconds), not following symlinks.
inline void SetMtime(const std::string& path, int64_t sec) {
  struct timespec ts[2] = {{sec, 0}, {sec, 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) == 0);
}

inline struct stat Lstat(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

// A python3 http.server on 127.0.0.1 (an ephemeral port) serving `dir`;
// killed by PID when the object goes away, also when a test fails.
class HttpServer {
 public:
  explicit HttpServer(const std::string& dir) {
    std::string script = scratch_ / "serve.py";
    layer::test::WriteFile(script,
                           "import http.server, os, sys\n"
                           "os.chdir(sys.argv[1])\n"
                           "class H(http.server.SimpleHTTPRequestHandler):\n"
                           "    def log_message(self, *a): pass\n"
                           "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
                           "open(sys.argv[2] + '.tmp', 'w').write(str(s.server_address[1]))\n"
                           "os.rename(sys.argv[2] + '.tmp', sys.argv[2])\n"
                           "s.serve_forever()\n");
    std::string port_file = scratch_ / "port";
    layer::test::Run r = Sh("python3 " + Q(script) + " " + Q(dir) + " " + Q(port_file) +
                            " </dev/null >/dev/null 2>&1 & echo $!");
    REQUIRE(r.code == 0);
    pid_ = std::stoi(r.out);
    for (int i = 0; i < 200 && !layer::test::Exists(port_file); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    REQUIRE(layer::test::Exists(port_file));
    port_ = std::stoi(ReadFile(port_file));
  }
  ~HttpServer() { Stop(); }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  void Stop() {
    if (pid_ > 0) ::kill(pid_, SIGTERM);
    pid_ = -1;
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
  }

 private:
  layer::test::TempDir scratch_;
  int pid_ = -1;
  int port_ = 0;
};

// A git repository made with the git CLI: Commit() writes files and
// commits them on the current branch, returning the commit id.
class GitRepo {
 public:
  GitRepo() { Git("init -q -b main"); }
  const std::string& path() const { return dir_.path(); }
  std::string Commit(const std::map<std::string, std::string>& files, const std::string& msg) {
    for (const auto& [rel, text] : files) dir_.Write(rel, text);
    Git("add -A");
    Git("-c user.name=t -c user.email=t@example.com commit -q -m " + Q(msg));
    return Head();
  }
  std::string Head() {
    layer::test::Run r = Sh("git -C " + Q(path()) + " rev-parse HEAD");
    REQUIRE(r.code == 0);
    return r.out.substr(0, 40);
  }
  void Git(const std::string& args) {
    layer::test::Run r = Sh("git -C " + Q(path()) + " " + args + " >/dev/null");
    REQUIRE(r.code == 0);
  }

 private:
  TempDir dir_;
};

}  // namespace hoist::engine::test
