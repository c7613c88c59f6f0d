#include "builder/up/registry_process.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "builder/transfer/layout.h"
#include "builder/up/paths.h"
#include "builder/up/process.h"
#include "common/http_client.h"
#include "common/self_exe.h"

namespace hoist::up {
namespace {

constexpr auto kAddressWait = std::chrono::seconds(10);

std::string S3Name(const std::string& bucket, const std::string& root_directory) {
  return "s3://" + bucket + "/" + root_directory;
}

// The last non-empty line of a (small) tail of `path`.
std::string LastLine(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  in.seekg(std::max<std::streamoff>(0, size - 4096));
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// `serve`'s arguments that name the file's storage.
std::vector<std::string> StorageArgs(const UpFile& file) {
  if (!file.registry.s3) return {"--root", StorageRoot(file)};
  const S3StorageSpec& s = *file.registry.s3;
  std::vector<std::string> a = {"--storage",   "s3",     "--s3-endpoint",       s.endpoint,
                                "--s3-bucket", s.bucket, "--s3-root-directory", s.root_directory,
                                "--s3-region", s.region};
  if (s.virtual_host) a.push_back("--s3-virtual-host");
  return a;
}

// One try: spawn, then wait for the address file or the child's exit.
Result<RegistryProcess> StartOnce(const UpFile& file, bool detach) {
  const std::string storage = StorageRoot(file);
  const std::string addr_file = paths::RegistryAddr(file.base_dir);
  const std::string log_path = paths::RegistryLog(file.base_dir);
  std::error_code ec;
  if (!file.registry.s3) std::filesystem::create_directories(storage, ec);
  std::filesystem::create_directories(paths::LogDir(file.base_dir), ec);
  std::filesystem::remove(addr_file, ec);
  Result<std::string> self = SelfExe();
  if (!self.ok()) return self.status();
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return ErrnoStatus("open", log_path);
  SpawnOptions so;
  so.argv = {*self,
             "registry",
             "serve",
             "--addr",
             "127.0.0.1:" + std::to_string(file.registry.port),
             "--addr-file",
             addr_file};
  for (std::string& a : StorageArgs(file)) so.argv.push_back(std::move(a));
  so.output_fd = log_fd;
  so.new_session = detach;
  so.new_process_group = !detach;
  so.die_with_parent = !detach;
  Result<pid_t> pid = Spawn(so);
  ::close(log_fd);
  if (!pid.ok()) return pid.status();
  Clock::time_point deadline = Clock::now() + kAddressWait;
  for (;;) {
    Result<std::string> addr = transfer::ReadSmallFile(addr_file, 256);
    if (addr.ok() && !addr->empty() && addr->back() == '\n') {
      RegistryProcess p;
      p.pid = *pid;
      p.address = addr->substr(0, addr->find('\n'));
      return p;
    }
    std::optional<int> status = WaitUntil(*pid, Clock::now() + std::chrono::milliseconds(20));
    if (status) {
      return Status(Code::kIo, "the registry exited (" + DescribeWaitStatus(*status) +
                                   ") before listening: " + LastLine(log_path));
    }
    if (Clock::now() >= deadline) {
      Stop(*pid, false, std::chrono::seconds(5));
      return Status(Code::kIo,
                    "the registry reported no address within 10s: " + LastLine(log_path));
    }
  }
}

}  // namespace

std::string StorageRoot(const UpFile& file) {
  if (file.registry.s3) return S3Name(file.registry.s3->bucket, file.registry.s3->root_directory);
  return std::filesystem::path(ResolvePath(file.base_dir, file.registry.storage))
      .lexically_normal()
      .string();
}

Result<RegistryProcess> StartRegistry(const UpFile& file, bool detach, const RetryPolicy& policy,
                                      EventSink& events, const Sleeper& sleep) {
  const std::string addr = "127.0.0.1:" + std::to_string(file.registry.port);
  RegistryProcess out;
  Status st = Retry(
      policy,
      [&](int attempt) -> Status {
        events.Emit(Event{"registry",
                          "",
                          "starting \"" + file.registry.name + "\" on " + addr + " (storage " +
                              StorageRoot(file) + "; attempt " + std::to_string(attempt) + " of " +
                              std::to_string(policy.retries + 1) + ")",
                          {{"name", file.registry.name},
                           {"addr", addr},
                           {"storage", StorageRoot(file)},
                           {"attempt", attempt}}});
        Result<RegistryProcess> p = StartOnce(file, detach);
        if (p.ok()) out = *p;
        return p.status();
      },
      [](const Status&) { return true; },
      [&](int n, Millis delay, const Status& why) {
        events.Emit(
            Event{"retry",
                  "",
                  "registry start failed: " + why.message() + "; attempt " + std::to_string(n + 1) +
                      " in " + FormatDuration(delay),
                  {{"attempt", n + 1}, {"delay_ms", delay.count()}, {"error", why.message()}}});
      },
      sleep);
  if (!st.ok()) {
    return Status(st.code(), "the registry did not start on " + addr + " after " +
                                 std::to_string(policy.retries + 1) +
                                 " attempt(s): " + st.message() +
                                 " (log: " + paths::RegistryLog(file.base_dir) + ")");
  }
  return out;
}

Status CheckHealth(const std::string& address, const std::string& path) {
  static http_client::Transport* transport = [] {
    http_client::TransportOptions o;
    o.connect_timeout_sec = 2;
    o.stall_timeout_sec = 5;
    return new http_client::Transport(o);  // lives as long as the process
  }();
  http_client::Request req;
  req.url = "http://" + address + path;
  Result<std::unique_ptr<http_client::Response>> resp = transport->Start(req);
  if (!resp.ok())
    return Status(resp.status().code(), "GET " + req.url + ": " + resp.status().message());
  int code = (*resp)->status();
  (*resp)->Drain();
  if (code != 200) {
    return Status(Code::kIo, "GET " + req.url + " answered " + std::to_string(code) + ", want 200");
  }
  return Status::Ok();
}

Status WaitReady(const std::string& address, const HealthSpec& health, pid_t pid,
                 const std::function<bool()>& cancelled) {
  Clock::time_point deadline = Clock::now() + health.timeout;
  Millis pause(20);
  Status st;
  for (;;) {
    st = CheckHealth(address, health.path);
    if (st.ok()) return st;
    if (pid > 0 && !Alive(pid)) return Status(Code::kIo, "the registry exited: " + st.message());
    if (cancelled && cancelled()) return Status(Code::kIo, "interrupted");
    if (Clock::now() + pause > deadline) break;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, health.interval);
  }
  return Status(Code::kIo,
                "not ready within " + FormatDuration(health.timeout) + ": " + st.message());
}

bool IsRegistryProcess(pid_t pid, const std::string& storage) {
  if (pid <= 0 || !Alive(pid)) return false;
  std::vector<std::string> argv = Cmdline(pid);
  if (argv.size() < 3 || argv[1] != "registry" || argv[2] != "serve") return false;
  std::string bucket, prefix;
  for (size_t i = 3; i + 1 < argv.size(); ++i) {
    if (argv[i] == "--root" && argv[i + 1] == storage) return true;
    if (argv[i] == "--s3-bucket") bucket = argv[i + 1];
    if (argv[i] == "--s3-root-directory") prefix = argv[i + 1];
  }
  return !bucket.empty() && S3Name(bucket, prefix) == storage;
}

bool StopRegistry(pid_t pid, const std::string& storage) {
  if (!IsRegistryProcess(pid, storage)) return !Alive(pid);
  return Stop(pid, false, std::chrono::seconds(15));
}

}  // namespace hoist::up
