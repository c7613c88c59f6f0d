// The registry `hoist up` fills: `hoist registry serve` as a child process
// (this same executable), never in this address space (DESIGN.md). Started
// on 127.0.0.1 with the file's port (0: a free one) and storage, its
// stdout/stderr appended to .hoist/logs/registry.log; the address comes
// back through --addr-file.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

#include "builder/up/config.h"
#include "builder/up/events.h"
#include "builder/up/retry.h"
#include "common/status.h"

namespace hoist::up {

struct RegistryProcess {
  pid_t pid = 0;
  std::string address;  // host:port
  bool reused = false;  // left running by an earlier `hoist up -d`
};

// The storage the file asks for, as the state file and messages name it:
// the absolute storage root, or "s3://BUCKET/ROOT_DIRECTORY".
std::string StorageRoot(const UpFile& file);

// Starts the registry, retrying with backoff (policy) when it exits before
// listening (e.g. its fixed port is taken) or does not report an address
// within 10 s. Emits "registry" before each try and "retry" before each
// retry. With `detach` the registry gets its own session and outlives this
// process; otherwise it gets SIGTERM when this process ends. The final
// error quotes the registry's last log line.
Result<RegistryProcess> StartRegistry(const UpFile& file, bool detach, const RetryPolicy& policy,
                                      EventSink& events, const Sleeper& sleep = RealSleep);

// GET http://<address><path>: OK on 200, else an error saying what came back.
Status CheckHealth(const std::string& address, const std::string& path);

// Polls CheckHealth until it passes, health.timeout passes, `pid` (when
// non-zero) exits, or cancelled() (may be null) turns true.
Status WaitReady(const std::string& address, const HealthSpec& health, pid_t pid,
                 const std::function<bool()>& cancelled);

// True when `pid` runs `hoist registry serve --root <storage>` (checked in
// /proc/PID/cmdline, so a recycled PID is never mistaken for it).
bool IsRegistryProcess(pid_t pid, const std::string& storage);

// Stops our registry: SIGTERM (it drains requests in flight), SIGKILL
// after 15 s. Does nothing unless IsRegistryProcess(pid, storage).
// Returns true when it stopped (or was not running).
bool StopRegistry(pid_t pid, const std::string& storage);

}  // namespace hoist::up
