#include "support/registry_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef HOIST_BINARY
#error "HOIST_BINARY must name the hoist executable (set by tests/CMakeLists.txt)"
#endif

namespace hoist::itest {
namespace {

constexpr int kPollMs = 50;
// 1200 x 50 ms = 60 s for the address file: generous for a loaded machine
// (the sanitizer pass under load), free otherwise (the wait ends with the
// file, or with the process).
constexpr int kStartPolls = 1200;

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

ExitStatus Decode(int wstatus) {
  ExitStatus s;
  s.reaped = true;
  if (WIFEXITED(wstatus)) {
    s.exited = true;
    s.code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    s.signal = WTERMSIG(wstatus);
  }
  return s;
}

// Parses "127.0.0.1:5000\n" into host and port.
bool ParseAddress(std::string text, std::string* host, int* port) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return false;
  std::string p = text.substr(colon + 1);
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  *host = text.substr(0, colon);
  *port = std::stoi(p);
  return *port > 0 && *port < 65536;
}

}  // namespace

RegistryProcess::RegistryProcess(RegistryOptions options) : options_(std::move(options)) {
  // A test that writes to a registry it has just killed (or that closed the
  // connection) must see EPIPE from send(), not die of SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  std::string tmpl = (std::filesystem::temp_directory_path() / "hoist-itest-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    error_ = "mkdtemp failed";
    return;
  }
  dir_ = tmpl;
  root_ = options_.root.empty() ? dir_ + "/root" : options_.root;
  addr_file_ = dir_ + "/addr";
  log_file_ = dir_ + "/registry.log";
  if (!options_.config_yaml.empty()) {
    config_file_ = dir_ + "/config.yml";
    std::ofstream(config_file_) << options_.config_yaml;
  }
}

RegistryProcess::~RegistryProcess() {
  if (running()) {
    pid_t pid = pid_;
    ExitStatus s = Stop();
    if (!s.exited || s.code != 0) {
      std::fprintf(stderr, "registry pid %d ended with %s %d; its log:\n%s\n", pid,
                   s.exited ? "exit code" : "signal", s.exited ? s.code : s.signal, Log().c_str());
    }
  }
  if (!dir_.empty() && !options_.keep_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string RegistryProcess::address() const {
  return host_ + ":" + std::to_string(port_);
}

std::string RegistryProcess::Log() const {
  return log_file_.empty() ? "" : ReadFile(log_file_);
}

httplib::Client RegistryProcess::Client() const {
  httplib::Client cli(host_, port_);
  cli.set_connection_timeout(5, 0);
  cli.set_read_timeout(20, 0);
  cli.set_write_timeout(20, 0);
  return cli;
}

bool RegistryProcess::Start() {
  if (running()) {
    error_ = "already running";
    return false;
  }
  if (dir_.empty()) return false;
  error_.clear();
  host_.clear();
  port_ = 0;
  ::unlink(addr_file_.c_str());

  std::vector<std::string> args = {
      HOIST_BINARY, "registry",    "serve",    "--addr",      "127.0.0.1:0",     "--root",
      root_,        "--addr-file", addr_file_, "--log-level", options_.log_level};
  // HOIST_ITEST_S3_ENDPOINT (with _BUCKET, _REGION and the AWS_* keys in
  // the environment): the same tests on the S3 driver, each storage root a
  // key prefix of its own in the bucket (tests/registry/s3_integration.sh).
  if (const char* endpoint = std::getenv("HOIST_ITEST_S3_ENDPOINT"); endpoint != nullptr) {
    const char* bucket = std::getenv("HOIST_ITEST_S3_BUCKET");
    const char* region = std::getenv("HOIST_ITEST_S3_REGION");
    for (std::string a : std::initializer_list<std::string>{
             "--storage", "s3", "--s3-endpoint", endpoint, "--s3-bucket",
             bucket != nullptr ? bucket : "", "--s3-region",
             region != nullptr ? region : "us-east-1", "--s3-root-directory",
             root_.substr(root_.find_first_not_of('/'))}) {
      args.push_back(std::move(a));
    }
  }
  if (!config_file_.empty()) {
    args.push_back("--config");
    args.push_back(config_file_);
  }
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (log_fd < 0 || null_fd < 0) {
    if (log_fd >= 0) ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    error_ = "cannot open the log file or /dev/null";
    return false;
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec. The registry dies
    // with the test process, even when that is killed.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP}) ::sigaction(sig, &dfl, nullptr);
    ::close_range(3, ~0U, 0);  // no client sockets of the test leak into the server
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    error_ = "fork failed";
    return false;
  }
  pid_ = pid;

  for (int i = 0; i < kStartPolls; ++i) {
    std::string text = ReadFile(addr_file_);
    if (!text.empty()) {
      if (ParseAddress(text, &host_, &port_)) return true;
      error_ = "unreadable address file: \"" + text + "\"";
      Kill();
      return false;
    }
    int wstatus = 0;
    if (::waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      last_exit_ = Decode(wstatus);
      pid_ = -1;
      error_ = "registry exited before listening; log:\n" + Log();
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
  }
  Kill();
  error_ = "registry did not write " + addr_file_ + " within 60 s; log:\n" + Log();
  return false;
}

bool RegistryProcess::Reap(int timeout_ms) {
  for (int waited = 0; waited <= timeout_ms; waited += kPollMs / 5) {
    int wstatus = 0;
    pid_t r = ::waitpid(pid_, &wstatus, WNOHANG);
    if (r == pid_) {
      last_exit_ = Decode(wstatus);
      pid_ = -1;
      return true;
    }
    if (r < 0 && errno != EINTR) {  // not our child any more: nothing to reap
      last_exit_ = ExitStatus{};
      pid_ = -1;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs / 5));
  }
  return false;
}

ExitStatus RegistryProcess::Stop(int timeout_ms) {
  if (!running()) return last_exit_;
  ::kill(pid_, SIGTERM);
  if (Reap(timeout_ms)) return last_exit_;
  return Kill();
}

ExitStatus RegistryProcess::Kill() {
  if (!running()) return last_exit_;
  ::kill(pid_, SIGKILL);
  if (!Reap(5000)) {
    // SIGKILL cannot be ignored; a child still not reaped is stuck in the
    // kernel. Forget it rather than hang the test run.
    last_exit_ = ExitStatus{};
    pid_ = -1;
  }
  return last_exit_;
}

bool RegistryProcess::Signal(int sig) {
  return running() && ::kill(pid_, sig) == 0;
}

bool RegistryProcess::Restart() {
  Stop();
  return Start();
}

}  // namespace hoist::itest
