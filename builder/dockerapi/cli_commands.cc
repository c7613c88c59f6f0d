#include "builder/dockerapi/cli_commands.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "builder/dockerapi/api.h"
#include "builder/dockerapi/http_server.h"
#include "builder/store/content_store.h"
#include "builder/store/file_io.h"
#include "builder/transfer/layout.h"
#include "common/reference.h"

namespace hoist::dockerapi {
namespace {

constexpr const char* kCmd = "hoist engine";

int Fail(int code, const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", kCmd, msg.c_str());
  return code;
}

// "HOST:PORT" (HOST may be [::1]) -> host, port; false when malformed.
bool SplitHostPort(const std::string& s, std::string* host, int* port) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos || colon + 1 == s.size()) return false;
  *host = s.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  std::string p = s.substr(colon + 1);
  if (p.find_first_not_of("0123456789") != std::string::npos || p.size() > 5) return false;
  *port = std::stoi(p);
  return *port <= 65535 && !host->empty();
}

}  // namespace

std::string CliCommands::DefaultSocket() {
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  if (xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/hoist/engine.sock";
  if (::geteuid() == 0) return "/run/hoist/engine.sock";
  return "/tmp/hoist-" + std::to_string(::geteuid()) + "/engine.sock";
}

CliCommands::CliCommands(CLI::App& app, std::string version)
    : app_(app), version_(std::move(version)) {
  engine_ = app.add_subcommand(
      "engine",
      "Serve the image half of the Docker Engine API (docker build/pull/push/images/tag/"
      "save/load/rmi) with no dockerd");
  engine_->add_option(
      "--socket", socket_,
      "Unix socket to listen on (default " + DefaultSocket() + "); DOCKER_HOST=unix://PATH");
  engine_->add_option("--addr", addr_,
                      "Listen on loopback TCP instead, HOST:PORT (port 0 picks one); "
                      "DOCKER_HOST=tcp://HOST:PORT");
  engine_->add_option("--registry", registry_,
                      "HOST:PORT of the registry that names without a registry host are "
                      "pushed to and pulled from (default: Docker Hub, as docker does)");
  engine_->add_option("--root", root_,
                      "The local content store (default $HOIST_HOME/store, shared with "
                      "hoist build)");
  engine_->add_option("--platform", platform_, "Default image platform (default: this host's)");
  engine_->add_option("--addr-file", addr_file_,
                      "Also write the DOCKER_HOST value to this file once listening");
  engine_->add_option("--jobs,-j", jobs_, "Blobs transferred at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  transfer::AddConnectionFlags(engine_, conn_);
}

bool CliCommands::Owns(int argc, char** argv) const {
  return argc > 1 && std::string(argv[1]) == "engine";
}

int CliCommands::Run(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e) == 0 ? 0 : 2;
  }
  if (!socket_.empty() && !addr_.empty()) return Fail(2, "--socket and --addr exclude each other");
  EngineOptions opt;
  opt.version = version_;
  opt.jobs = jobs_;
  opt.client = transfer::ClientOptions(conn_);
  if (!registry_.empty()) {
    Result<std::string> host = NormalizeRegistryHost(registry_);
    if (!host.ok()) return Fail(2, "--registry " + registry_ + ": " + host.status().message());
    opt.registry = *host;
  }
  opt.platform = transfer::Platform::Host();
  if (!platform_.empty()) {
    Result<transfer::Platform> p = transfer::Platform::Parse(platform_);
    if (!p.ok()) return Fail(2, "--platform: " + p.status().message());
    opt.platform = *p;
  }
  Result<std::unique_ptr<store::ContentStore>> store =
      store::ContentStore::OpenRoot(root_.empty() ? store::ContentStore::DefaultRoot() : root_);
  if (!store.ok()) return Fail(1, "local store: " + store.status().message());

  // Signals go to one thread that waits for them (as in registry serve).
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Api api(**store, opt);
  Server server([&api](Request& req, ResponseWriter& w) { api.Handle(req, w); });
  Status st = Status::Ok();
  if (!addr_.empty()) {
    std::string host;
    int port = 0;
    if (!SplitHostPort(addr_, &host, &port)) return Fail(2, "--addr " + addr_ + ": want HOST:PORT");
    st = server.ListenTcp(host, port);
  } else {
    std::string path = socket_.empty() ? DefaultSocket() : socket_;
    std::string dir = path.substr(0, path.rfind('/'));
    if (!dir.empty()) st = store::MakeDirs(dir);
    if (st.ok()) st = server.ListenUnix(path);
  }
  if (!st.ok()) return Fail(1, st.message());
  if (!addr_file_.empty()) {
    Status w = transfer::WriteFileAtomic(addr_file_, server.Address() + "\n");
    if (!w.ok()) return Fail(1, "--addr-file: " + w.message());
  }
  std::printf("%s\n", server.Address().c_str());
  std::fflush(stdout);
  std::fprintf(stderr, "%s: serving the Docker Engine API on %s (store %s%s)\n", kCmd,
               server.Address().c_str(), (*store)->root().c_str(),
               opt.registry.empty() ? "" : (", registry " + opt.registry).c_str());

  std::thread waiter([&server, set]() mutable {
    int sig = 0;
    sigwait(&set, &sig);
    server.Shutdown();
  });
  server.Run();
  waiter.detach();  // still in sigwait only if Run ended on its own
  return 0;
}

}  // namespace hoist::dockerapi
