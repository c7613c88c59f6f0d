#include "builder/up/up.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "builder/transfer/cli_commands.h"
#include "builder/transfer/layout.h"
#include "builder/up/config.h"
#include "builder/up/events.h"
#include "builder/up/paths.h"
#include "builder/up/process.h"
#include "builder/up/registry_process.h"
#include "builder/up/runner.h"
#include "builder/up/strategies.h"

namespace hoist::up {
namespace {

using nlohmann::json;
using transfer::kExitFailure;
using transfer::kExitOk;
using transfer::kExitUsage;

int Complain(const char* cmd, const std::string& msg, int code) {
  std::fprintf(stderr, "hoist %s: %s\n", cmd, msg.c_str());
  return code;
}

// .hoist/up.lock, held while `hoist up` runs (one per project at a time).
class UpLock {
 public:
  ~UpLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  // False when another process holds it.
  Result<bool> Acquire(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) return ErrnoStatus("open", path);
    return ::flock(fd_, LOCK_EX | LOCK_NB) == 0;
  }

 private:
  int fd_ = -1;
};

// SIGINT and SIGTERM go to one thread that counts them; every other thread
// (started after this object) has them blocked. On the second signal
// `on_second` runs (it must end the process).
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    // A shell starts background jobs with SIGINT ignored, and an ignored
    // signal is dropped even while blocked: give both a handler so they
    // stay pending for sigtimedwait.
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
    thread_ = std::thread([this] {
      while (!done_) {
        timespec ts{0, 100 * 1000 * 1000};
        int sig = sigtimedwait(&set_, nullptr, &ts);
        if (sig <= 0) continue;
        if (++count_ < 2) continue;
        std::lock_guard<std::mutex> lock(mu_);
        if (on_second_) on_second_();
      }
    });
  }
  ~SignalWatcher() {
    done_ = true;
    thread_.join();
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  int count() const { return count_; }
  // `fn` runs on the watcher thread at the second signal; it must end the
  // process and may use only what it owns.
  void OnSecond(std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    on_second_ = std::move(fn);
  }

 private:
  sigset_t set_, old_;
  struct sigaction old_int_ {
  }, old_term_{};
  std::atomic<bool> done_{false};
  std::atomic<int> count_{0};
  std::mutex mu_;  // guards on_second_
  std::function<void()> on_second_;
  std::thread thread_;
};

int PortOf(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return -1;
  try {
    return std::stoi(address.substr(colon + 1));
  } catch (const std::exception&) {
    return -1;
  }
}

// A registry an earlier `up -d` left running, when it still matches the
// file and answers its health check; otherwise it is stopped (when it is
// one of ours) and nullopt is returned.
std::optional<RegistryProcess> Reusable(const State& prev, const UpFile& file, EventSink& events) {
  const RegistryRecord& r = prev.registry;
  if (r.pid <= 0 || !IsRegistryProcess(r.pid, r.storage)) return std::nullopt;
  std::string why;
  if (r.storage != StorageRoot(file)) {
    why = "its storage is " + r.storage + ", the file asks for " + StorageRoot(file);
  } else if (file.registry.port != 0 && PortOf(r.address) != file.registry.port) {
    why = "it listens on " + r.address + ", the file asks for port " +
          std::to_string(file.registry.port);
  } else if (Status h = CheckHealth(r.address, file.registry.health.path); !h.ok()) {
    why = "its health check fails: " + h.message();
  }
  if (why.empty()) {
    RegistryProcess p;
    p.pid = r.pid;
    p.address = r.address;
    p.reused = true;
    return p;
  }
  events.Emit(Event{"stopping",
                    "",
                    "the running registry (pid " + std::to_string(r.pid) + ") is replaced: " + why,
                    {{"pid", r.pid}}});
  StopRegistry(r.pid, r.storage);
  return std::nullopt;
}

// The registry for this run: the one an earlier `up -d` left running
// (Reusable), or a new one. Emits "reused", or "failed" with the reason.
Result<RegistryProcess> AcquireRegistry(const UpFile& file, const Result<State>& prev, bool detach,
                                        const RetryPolicy& policy, EventSink& events) {
  if (std::optional<RegistryProcess> p =
          prev.ok() ? Reusable(prev.value(), file, events) : std::nullopt) {
    events.Emit(Event{
        "reused",
        "",
        "registry left running by an earlier `hoist up -d` (pid " + std::to_string(p->pid) + ")",
        {{"pid", p->pid}, {"address", p->address}}});
    return *p;
  }
  Result<RegistryProcess> started = StartRegistry(file, detach, policy, events);
  if (!started.ok()) events.Emit(Event{"failed", "", started.status().message()});
  return started;
}

// Records the registry in the state and the PID file. `started_at` is kept
// for a reused registry.
void SaveEndpoint(StateStore& state, const UpFile& file, const RegistryProcess& reg,
                  const std::string& started_at, EventSink& events) {
  Status saved = state.UpdateRegistry([&](RegistryRecord& r) {
    r.name = file.registry.name;
    r.pid = reg.pid;
    r.address = reg.address;
    r.storage = StorageRoot(file);
    r.log = paths::RegistryLog(file.base_dir);
    r.started_at = reg.reused && !started_at.empty() ? started_at
                                                     : FormatTime(std::chrono::system_clock::now());
  });
  if (saved.ok()) {
    saved = transfer::WriteFileAtomic(paths::RegistryPid(file.base_dir),
                                      std::to_string(reg.pid) + "\n");
  }
  if (!saved.ok()) events.Emit(Event{"warning", "", "cannot save the state: " + saved.message()});
}

void ClearRegistry(StateStore& state, const std::string& base_dir) {
  Status st = state.UpdateRegistry([](RegistryRecord& r) { r.pid = 0; });
  (void)st;
  std::error_code ec;
  std::filesystem::remove(paths::RegistryPid(base_dir), ec);
}

// The image jobs against the registry at reg.address.
RunReport RunImages(const UpFile& file, const RegistryProcess& reg, const RetryPolicy& policy,
                    StateStore& state, EventSink& events, const SignalWatcher& signals,
                    std::map<std::string, std::shared_ptr<const sign::PrivateKey>> sign_keys) {
  RegistryClientOptions copts;
  copts.plain_http_hosts = {reg.address};
  copts.attempts = 1 + std::min(file.build.retries, 4);
  copts.transport.connect_timeout_sec = 10;
  transfer::Places places(copts);
  StrategyTable strategies = DefaultStrategies();
  RegistryPusher pusher;
  RunSettings rs;
  rs.registry = reg.address;
  rs.sign_keys = std::move(sign_keys);
  rs.parallel = file.build.parallel;
  rs.retry = policy;
  rs.timeout = file.build.timeout;
  rs.cancelled = [&signals] { return signals.count() > 0; };
  return ImageRunner(file, strategies, pusher, events, state, places, rs).Run();
}

// Serves in the foreground until a signal, or until the registry dies
// (then false). Health is checked every interval; changes are events.
bool ServeForeground(const RegistryProcess& reg, const UpFile& file, SignalWatcher& signals,
                     EventSink& events) {
  bool healthy = true;
  Clock::time_point next_check = Clock::now() + file.registry.health.interval;
  while (signals.count() == 0) {
    if (!reg.reused) {
      if (std::optional<int> st = WaitUntil(reg.pid, Clock::now())) {
        events.Emit(Event{"failed", "", "the registry exited (" + DescribeWaitStatus(*st) + ")"});
        return false;
      }
    } else if (!Alive(reg.pid)) {
      events.Emit(
          Event{"failed", "", "the registry (pid " + std::to_string(reg.pid) + ") is gone"});
      return false;
    }
    if (Clock::now() >= next_check) {
      Status h = CheckHealth(reg.address, file.registry.health.path);
      if (h.ok() != healthy) {
        healthy = h.ok();
        events.Emit(
            Event{healthy ? "healthy" : "unhealthy", "", healthy ? reg.address : h.message()});
      }
      next_check = Clock::now() + file.registry.health.interval;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

std::string Pad(const std::string& s, size_t w) {
  return s.size() >= w ? s : s + std::string(w - s.size(), ' ');
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

// The state and the file's base directory for down/status/env.
Result<State> LoadStateOf(const std::string& file) {
  return LoadState(paths::State(FileDir(file)));
}

bool RegistryRunning(const State& s) {
  return s.registry.pid > 0 && IsRegistryProcess(s.registry.pid, s.registry.storage);
}

}  // namespace

std::string FormatTable(const State& state, bool running) {
  const RegistryRecord& g = state.registry;
  std::string out = "registry \"" + g.name + "\": " + (g.address.empty() ? "-" : g.address) +
                    (running ? " (pid " + std::to_string(g.pid) + ", running)" : " (stopped)") +
                    ", storage " + g.storage + "\n";
  std::vector<std::vector<std::string>> rows = {{"IMAGE", "STATE", "REFERENCE", "DIGEST", "TIME"}};
  std::string errors;
  for (const ImageRecord& r : state.images) {
    std::string st(StateName(r.state));
    if (r.state == ImageState::kPushed && r.unchanged) st += " (unchanged)";
    rows.push_back({r.name, st, r.reference, r.digest.empty() ? "-" : r.digest.substr(0, 19),
                    Seconds(r.produce_seconds + r.push_seconds)});
    if (!r.error.empty()) errors += "  " + r.name + ": " + IndentLines(r.error, "    ") + "\n";
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += c + 1 == row.size() ? row[c] : Pad(row[c], width[c] + 2);
    }
    out += line + "\n";
  }
  if (!errors.empty()) out += "errors:\n" + errors;
  return out;
}

int RunUp(const UpOptions& o) {
  Result<UpFile> loaded = LoadUpFile(o.file);
  if (!loaded.ok()) return Complain("up", loaded.status().message(), kExitUsage);
  const UpFile& file = *loaded;
  const std::string& base = file.base_dir;
  // Keys first: a wrong passphrase stops `up` before anything starts.
  auto sign_keys = LoadSigningKeys(file);
  if (!sign_keys.ok()) return Complain("up", sign_keys.status().message(), kExitUsage);
  std::error_code ec;
  std::filesystem::create_directories(paths::LogDir(base), ec);
  if (ec) return Complain("up", paths::LogDir(base) + ": " + ec.message(), kExitFailure);
  UpLock lock;
  Result<bool> locked = lock.Acquire(paths::Lock(base));
  if (!locked.ok()) return Complain("up", locked.status().message(), kExitFailure);
  if (!*locked) {
    return Complain("up",
                    "another `hoist up` is running for " + o.file + " (" + paths::Lock(base) + ")",
                    kExitFailure);
  }
  SignalWatcher signals;  // before any other thread starts
  ConsoleEvents events(stdout, o.json);
  events.Emit(Event{"init",
                    "",
                    o.file + ": registry \"" + file.registry.name + "\", " +
                        std::to_string(file.images.size()) + " image(s), parallel " +
                        std::to_string(file.build.parallel) + "; state in " + paths::State(base),
                    {{"file", o.file},
                     {"images", file.images.size()},
                     {"parallel", file.build.parallel},
                     {"state", paths::State(base)}}});

  Result<State> prev = LoadState(paths::State(base));
  State initial;
  initial.file = base + "/" + std::filesystem::path(o.file).filename().string();
  initial.registry.name = file.registry.name;
  StateStore state(paths::State(base), initial);
  const RetryPolicy policy = RetryPolicy::From(file.build);
  const std::string storage = StorageRoot(file);

  // The registry: reuse or start; endpoint; ready.
  Result<RegistryProcess> acquired = AcquireRegistry(file, prev, o.detach, policy, events);
  if (!acquired.ok()) {
    ClearRegistry(state, base);
    if (o.json) Complain("up", acquired.status().message(), 0);
    return kExitFailure;
  }
  const RegistryProcess reg = *acquired;
  auto stop_registry = [&] {
    events.Emit(
        Event{"stopping", "", "registry pid " + std::to_string(reg.pid), {{"pid", reg.pid}}});
    StopRegistry(reg.pid, storage);
    ClearRegistry(state, base);
    events.Emit(Event{"stopped", "", "registry " + reg.address, {{"address", reg.address}}});
  };
  if (!o.detach) {
    signals.OnSecond([pid = reg.pid, storage] {
      StopRegistry(pid, storage);
      std::_Exit(130);
    });
  }
  SaveEndpoint(state, file, reg, prev.ok() ? prev->registry.started_at : "", events);
  events.Emit(Event{"endpoint",
                    "",
                    reg.address + " (pid " + std::to_string(reg.pid) + ")",
                    {{"address", reg.address}, {"pid", reg.pid}, {"reused", reg.reused}}});
  Clock::time_point wait_start = Clock::now();
  Status ready =
      WaitReady(reg.address, file.registry.health, reg.pid, [&] { return signals.count() > 0; });
  if (!ready.ok()) {
    events.Emit(Event{"failed", "", "the registry is not ready: " + ready.message()});
    if (!reg.reused) stop_registry();
    return kExitFailure;
  }
  events.Emit(Event{"ready",
                    "",
                    "GET " + file.registry.health.path + " answered 200 after " +
                        Seconds(std::chrono::duration<double>(Clock::now() - wait_start).count()),
                    {{"address", reg.address}, {"path", file.registry.health.path}}});

  RunReport report = RunImages(file, reg, policy, state, events, signals, std::move(*sign_keys));
  if (!o.json) std::printf("\n%s", FormatTable(state.Snapshot(), true).c_str());
  std::fflush(stdout);
  int rc = report.failed > 0 ? kExitFailure : kExitOk;

  if (o.detach) {
    events.Emit(Event{"detached",
                      "",
                      "the registry keeps running at " + reg.address + " (pid " +
                          std::to_string(reg.pid) + "); `hoist down` stops it",
                      {{"address", reg.address}, {"pid", reg.pid}}});
    return rc;
  }
  events.Emit(Event{"serving",
                    "",
                    reg.address + "; Ctrl-C stops the registry",
                    {{"address", reg.address}, {"pid", reg.pid}}});
  if (!ServeForeground(reg, file, signals, events)) {
    ClearRegistry(state, base);
    return kExitFailure;
  }
  stop_registry();
  return rc;
}

int RunDown(const std::string& file, bool json) {
  Result<State> st = LoadStateOf(file);
  if (!st.ok()) return Complain("down", st.status().message(), kExitFailure);
  ConsoleEvents events(stdout, json);
  StateStore state(paths::State(FileDir(file)), *st);
  const RegistryRecord& g = st->registry;
  if (!RegistryRunning(*st)) {
    std::string why = g.pid > 0 && Alive(g.pid)
                          ? "PID " + std::to_string(g.pid) + " is not the registry any more"
                          : "not running";
    events.Emit(Event{"stopped", "", "registry \"" + g.name + "\": " + why});
    ClearRegistry(state, FileDir(file));
    return kExitOk;
  }
  events.Emit(Event{"stopping", "", "registry pid " + std::to_string(g.pid), {{"pid", g.pid}}});
  if (!StopRegistry(g.pid, g.storage)) {
    return Complain("down", "registry pid " + std::to_string(g.pid) + " did not stop",
                    kExitFailure);
  }
  ClearRegistry(state, FileDir(file));
  events.Emit(Event{"stopped",
                    "",
                    "registry " + g.address + " (storage " + g.storage + " kept)",
                    {{"address", g.address}, {"storage", g.storage}}});
  return kExitOk;
}

int RunStatus(const std::string& file, bool as_json) {
  Result<State> st = LoadStateOf(file);
  if (!st.ok()) return Complain("status", st.status().message(), kExitFailure);
  bool running = RegistryRunning(*st);
  if (as_json) {
    json j = ToJson(*st);
    j["registry"]["running"] = running;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s", FormatTable(*st, running).c_str());
  }
  return kExitOk;
}

int RunEnv(const std::string& file) {
  Result<State> st = LoadStateOf(file);
  if (!st.ok()) return Complain("env", st.status().message(), kExitFailure);
  if (!RegistryRunning(*st)) {
    return Complain("env", "the registry is not running (run `hoist up -d`)", kExitFailure);
  }
  std::printf("REGISTRY=%s\n", st->registry.address.c_str());
  return kExitOk;
}

}  // namespace hoist::up
