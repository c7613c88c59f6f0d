// RegistryProcess: one `hoist registry serve` child process, listening on a
// free loopback port, with its own fresh storage root, for process-level
// tests. The destructor stops the process it started (SIGTERM to its own
// pid, bounded wait, then SIGKILL) and removes the temporary directory, so
// a failing test never leaves a server behind.
//
// Not thread-safe: create, start and stop it from the test's thread only
// (clients made by Client() may be used from any thread).
#pragma once

#include <httplib.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace hoist::itest {

// How a child process ended.
struct ExitStatus {
  bool exited = false;  // it called exit(); `code` is valid
  int code = -1;
  int signal = 0;       // the signal that ended it, when !exited
  bool reaped = false;  // false: it was never started, or could not be reaped
};

struct RegistryOptions {
  // When not empty: serve this existing storage root (e.g. another
  // RegistryProcess's root()) instead of a fresh one; it is never removed.
  std::string root;
  // When not empty: written to <dir>/config.yml and passed with --config.
  std::string config_yaml;
  // Leave the temporary directory (root, log, config) on destruction.
  bool keep_dir = false;
  // --log-level of the server.
  std::string log_level = "warn";
  // Extra arguments after the standard ones.
  std::vector<std::string> extra_args;
};

class RegistryProcess {
 public:
  // Creates the temporary directory; does not start the process. Sets
  // SIGPIPE to ignored in the test process (the child gets the default).
  explicit RegistryProcess(RegistryOptions options = {});
  // Stops the process if it runs; removes the directory unless keep_dir.
  ~RegistryProcess();
  RegistryProcess(const RegistryProcess&) = delete;
  RegistryProcess& operator=(const RegistryProcess&) = delete;

  // Starts the server on root() and waits (at most 5 s) until it has
  // written its bound address. Returns false, with error() and the process
  // reaped, when it did not. REQUIRES: !running().
  bool Start();
  // SIGTERM to this process's pid, waits at most `timeout_ms`, then SIGKILL.
  // Returns how it ended (also when it had already exited on its own).
  ExitStatus Stop(int timeout_ms = 15000);
  // SIGKILL to this process's pid, then reaps it.
  ExitStatus Kill();
  // Stop() then Start() on the same root (a new port may be chosen).
  bool Restart();
  // Sends `sig` to this process's pid without waiting; false when not running.
  bool Signal(int sig);

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& host() const { return host_; }
  int port() const { return port_; }
  // "127.0.0.1:<port>"
  std::string address() const;
  // The storage root and the temporary directory that holds it.
  const std::string& root() const { return root_; }
  const std::string& dir() const { return dir_; }
  // Why Start() failed, with the process log.
  const std::string& error() const { return error_; }
  // Everything the process wrote to stdout and stderr, over all its runs.
  std::string Log() const;
  // How the last run ended (after Stop() or Kill()).
  const ExitStatus& last_exit() const { return last_exit_; }

  // A new client for this server, with bounded timeouts.
  httplib::Client Client() const;

 private:
  // Waits up to `timeout_ms` for the child to end; true when reaped.
  bool Reap(int timeout_ms);

  RegistryOptions options_;
  std::string dir_;
  std::string root_;
  std::string addr_file_;
  std::string log_file_;
  std::string config_file_;
  std::string host_;
  int port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
  ExitStatus last_exit_;
};

}  // namespace hoist::itest
