#include "common/credentials.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "common/reference.h"

extern char** environ;

namespace hoist {
namespace {

using nlohmann::json;

// The key a host is stored under in "auths" and passed to helpers.
std::string ConfigKey(std::string_view registry) {
  return registry == kDockerHubDomain ? std::string(kDockerHubConfigKey) : std::string(registry);
}

bool SameHost(std::string_view key, std::string_view registry) {
  Result<std::string> h = NormalizeRegistryHost(key);
  return h.ok() && *h == registry;
}

Result<json> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return json::object();
    return ErrnoStatus("open", path);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().find_first_not_of(" \t\r\n") == std::string::npos) return json::object();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status(Code::kInvalidArgument, "malformed Docker config file " + path);
  }
  return j;
}

Status SaveConfig(const std::string& path, const json& j) {
  size_t slash = path.rfind('/');
  if (slash != std::string::npos) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus("mkdir", dir);
  }
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("create", tmp);
  std::string text = j.dump(1, '\t') + "\n";
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::fsync(fd) == 0 && ok;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    Status st = ErrnoStatus("write", path);
    ::unlink(tmp.c_str());
    return st;
  }
  return Status::Ok();
}

// Which helper serves `registry`: credHelpers first, then credsStore.
std::string HelperFor(const json& config, std::string_view registry) {
  if (auto it = config.find("credHelpers"); it != config.end() && it->is_object()) {
    for (auto& [key, value] : it->items()) {
      if (value.is_string() && SameHost(key, registry)) return value.get<std::string>();
    }
  }
  if (auto it = config.find("credsStore"); it != config.end() && it->is_string()) {
    return it->get<std::string>();
  }
  return {};
}

struct HelperOutput {
  int exit_code = -1;
  std::string out;
};

// Runs docker-credential-<name> <verb> with `input` on stdin.
Result<HelperOutput> RunHelper(const std::string& name, const char* verb,
                               const std::string& input) {
  std::string program = "docker-credential-" + name;
  int in_pipe[2], out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0) return ErrnoStatus("pipe", program);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    ::close(in_pipe[0]);
    ::close(in_pipe[1]);
    return ErrnoStatus("pipe", program);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  std::vector<char*> argv = {program.data(), const_cast<char*>(verb), nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(in_pipe[0]);
  ::close(out_pipe[1]);
  if (rc != 0) {
    ::close(in_pipe[1]);
    ::close(out_pipe[0]);
    return Status(Code::kInvalidArgument,
                  "cannot run credential helper " + program + ": " + std::strerror(rc));
  }
  size_t off = 0;
  while (off < input.size()) {
    ssize_t w = ::write(in_pipe[1], input.data() + off, input.size() - off);
    if (w <= 0) break;
    off += static_cast<size_t>(w);
  }
  ::close(in_pipe[1]);
  HelperOutput result;
  char buf[4096];
  while (true) {
    ssize_t r = ::read(out_pipe[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    if (result.out.size() < (1 << 20)) result.out.append(buf, static_cast<size_t>(r));
  }
  ::close(out_pipe[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n'));
  return line.substr(0, 200);
}

}  // namespace

std::string DefaultDockerConfigPath() {
  if (const char* d = std::getenv("DOCKER_CONFIG"); d != nullptr && *d != '\0') {
    return std::string(d) + "/config.json";
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.docker/config.json";
}

CredentialStore::CredentialStore(std::string config_path)
    : path_(config_path.empty() ? DefaultDockerConfigPath() : std::move(config_path)) {}

Result<Credential> CredentialStore::Get(std::string_view registry) const {
  Result<json> config = LoadConfig(path_);
  if (!config.ok()) return config.status();
  std::string helper = HelperFor(*config, registry);
  if (!helper.empty()) {
    Result<HelperOutput> out = RunHelper(helper, "get", ConfigKey(registry));
    if (!out.ok()) return out.status();
    if (out->exit_code != 0) {
      if (out->out.find("credentials not found") != std::string::npos) return Credential{};
      return Status(Code::kInvalidArgument, "credential helper docker-credential-" + helper +
                                                " get failed: " + FirstLine(out->out));
    }
    json j = json::parse(out->out, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Status(Code::kInvalidArgument,
                    "credential helper docker-credential-" + helper + " returned malformed JSON");
    }
    return Credential{j.value("Username", ""), j.value("Secret", "")};
  }
  auto auths = config->find("auths");
  if (auths == config->end() || !auths->is_object()) return Credential{};
  for (auto& [key, entry] : auths->items()) {
    if (!entry.is_object() || !SameHost(key, registry)) continue;
    if (auto it = entry.find("identitytoken");
        it != entry.end() && it->is_string() && !it->get<std::string>().empty()) {
      return Credential{"<token>", it->get<std::string>()};
    }
    if (auto it = entry.find("auth"); it != entry.end() && it->is_string()) {
      Result<std::string> plain = Base64Decode(it->get<std::string>());
      size_t colon = plain.ok() ? plain->find(':') : std::string::npos;
      if (colon == std::string::npos) {
        return Status(Code::kInvalidArgument,
                      "malformed \"auth\" entry for " + key + " in " + path_);
      }
      return Credential{plain->substr(0, colon), plain->substr(colon + 1)};
    }
    return Credential{entry.value("username", ""), entry.value("password", "")};
  }
  return Credential{};
}

Status CredentialStore::Store(std::string_view registry, const Credential& cred) const {
  Result<json> config = LoadConfig(path_);
  if (!config.ok()) return config.status();
  std::string helper = HelperFor(*config, registry);
  if (!helper.empty()) {
    json in = {
        {"ServerURL", ConfigKey(registry)}, {"Username", cred.username}, {"Secret", cred.password}};
    Result<HelperOutput> out = RunHelper(helper, "store", in.dump());
    if (!out.ok()) return out.status();
    if (out->exit_code != 0) {
      return Status(Code::kInvalidArgument, "credential helper docker-credential-" + helper +
                                                " store failed: " + FirstLine(out->out));
    }
    // Docker leaves an empty entry in "auths" so the host is listed.
    (*config)["auths"][ConfigKey(registry)] = json::object();
    return SaveConfig(path_, *config);
  }
  json& auths = (*config)["auths"];
  if (!auths.is_object()) auths = json::object();
  for (auto it = auths.begin(); it != auths.end();) {
    it = SameHost(it.key(), registry) ? auths.erase(it) : std::next(it);
  }
  auths[ConfigKey(registry)] = {{"auth", Base64Encode(cred.username + ":" + cred.password)}};
  return SaveConfig(path_, *config);
}

Status CredentialStore::Erase(std::string_view registry) const {
  Result<json> config = LoadConfig(path_);
  if (!config.ok()) return config.status();
  bool found = false;
  std::string helper = HelperFor(*config, registry);
  if (!helper.empty()) {
    Result<HelperOutput> out = RunHelper(helper, "erase", ConfigKey(registry));
    if (!out.ok()) return out.status();
    found = out->exit_code == 0;
  }
  auto auths = config->find("auths");
  if (auths != config->end() && auths->is_object()) {
    for (auto it = auths->begin(); it != auths->end();) {
      if (SameHost(it.key(), registry)) {
        found = true;
        it = auths->erase(it);
      } else {
        ++it;
      }
    }
  }
  if (!found) return Status(Code::kNotFound, "not logged in to " + std::string(registry));
  return SaveConfig(path_, *config);
}

std::string ReadPasswordFromTty(const char* prompt) {
  std::FILE* tty = std::fopen("/dev/tty", "r+");
  if (tty == nullptr) return {};
  std::fputs(prompt, tty);
  std::fflush(tty);
  termios old{};
  bool have = tcgetattr(fileno(tty), &old) == 0;
  if (have) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
  }
  char buf[1024];
  std::string out;
  if (std::fgets(buf, sizeof buf, tty) != nullptr) out = buf;
  if (have) tcsetattr(fileno(tty), TCSAFLUSH, &old);
  std::fputs("\n", tty);
  std::fclose(tty);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

}  // namespace hoist
