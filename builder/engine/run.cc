#include "builder/engine/run.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <regex>

#include "builder/dockerfile/parser.h"
#include "builder/dockerfile/text.h"
#include "builder/engine/rootfs.h"
#include "builder/store/file_io.h"

namespace hoist::engine {
namespace {

constexpr size_t kMaxSecretBytes = 500 * 1024;
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// BuildKit's parser.MustParseHeredoc: the whole word is one heredoc opener.
bool IsHeredocWord(const std::string& word) {
  static const std::regex re(R"re(^(\d*)<<(-?)\s*(["']?)([a-zA-Z_][a-zA-Z0-9_]*)(["']?)$)re");
  return std::regex_match(word, re);
}

std::string EnvKey(const std::string& kv) {
  return kv.substr(0, kv.find('='));
}

// Sets (or replaces) `key` in a "K=V" list.
void SetEnv(std::vector<std::string>* env, const std::string& key, const std::string& value) {
  for (std::string& kv : *env) {
    if (EnvKey(kv) == key) {
      kv = key + "=" + value;
      return;
    }
  }
  env->push_back(key + "=" + value);
}

std::optional<std::string> GetEnv(const std::vector<std::string>& env, const std::string& key) {
  for (const std::string& kv : env) {
    if (EnvKey(kv) == key)
      return kv.substr(kv.find('=') == std::string::npos ? kv.size() : kv.find('=') + 1);
  }
  return std::nullopt;
}

}  // namespace

Result<RunArgv> BuildRunArgv(const dockerfile::CommandLine& cmd,
                             const std::vector<std::string>& shell) {
  std::vector<std::string> sh = shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : shell;
  RunArgv out;
  std::vector<std::string> args = cmd.args;
  if (!cmd.files.empty()) {
    if (args.size() != 1 || !cmd.prepend_shell) {
      return Status(Code::kInvalidArgument, "a heredoc needs the shell form of RUN");
    }
    if (IsHeredocWord(std::string(dockerfile::text::TrimSpace(args[0])))) {
      const dockerfile::InlineFile& f = cmd.files[0];
      std::string data = f.chomp ? dockerfile::ChompHeredocContent(f.data) : f.data;
      if (data.rfind("#!", 0) == 0) {
        dockerfile::InlineFile script = f;
        script.data = data;
        out.argv = {std::string(kScriptDir) + "/" + f.name};
        out.script = std::move(script);
        return out;
      }
      args = {data};
    } else {
      std::string full = args[0];
      for (const dockerfile::InlineFile& f : cmd.files) full += "\n" + f.data + f.name;
      args = {full};
    }
  }
  if (cmd.prepend_shell) {
    std::string joined;
    for (size_t i = 0; i < args.size(); ++i) joined += (i ? " " : "") + args[i];
    out.argv = sh;
    out.argv.push_back(joined);
  } else {
    out.argv = args;
  }
  if (out.argv.empty() || out.argv[0].empty()) {
    return Status(Code::kInvalidArgument, "RUN has no command to run");
  }
  return out;
}

void RunArgs::Declare(const std::string& key, const std::optional<std::string>& value) {
  if (value) {
    values_[key] = *value;
    arg_wins_.insert(key);
  }
  for (auto& d : declared_) {
    if (d.first == key) {
      d.second = value;
      return;
    }
  }
  declared_.emplace_back(key, value);
}

void RunArgs::EnvSet(const std::string& key) {
  arg_wins_.erase(key);
}

RunArgs RunArgs::ForChildStage() const {
  RunArgs r = *this;
  r.declared_.clear();
  return r;
}

std::vector<std::string> RunArgs::Environment(
    const std::vector<std::string>& config_env,
    const std::map<std::string, std::string>& proxy) const {
  std::vector<std::string> env = config_env;
  for (const auto& [k, v] : values_) {
    if (arg_wins_.count(k) || !GetEnv(env, k)) SetEnv(&env, k, v);
  }
  for (const auto& [k, v] : proxy) {
    if (!GetEnv(env, k)) env.push_back(k + "=" + v);
  }
  if (!GetEnv(env, "PATH")) env.push_back(std::string("PATH=") + kDefaultPath);
  return env;
}

std::string RunArgs::HistoryText(const std::vector<std::string>& argv,
                                 const std::vector<std::string>& config_env) const {
  std::vector<std::string> parts;
  for (const auto& [k, v] : declared_) {
    std::optional<std::string> env = arg_wins_.count(k) ? std::nullopt : GetEnv(config_env, k);
    parts.push_back(k + "=" + (env ? *env : v.value_or("")));
  }
  std::string out;
  if (!parts.empty()) out = "|" + std::to_string(parts.size());
  for (const std::string& p : parts) out += " " + p;
  for (const std::string& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

Result<SecretSource> ParseSecretSpec(std::string_view spec) {
  SecretSource s;
  std::string type;
  for (const std::string& field : dockerfile::text::Split(spec, ',')) {
    size_t eq = field.find('=');
    std::string key = dockerfile::text::ToLower(field.substr(0, eq));
    std::string value = eq == std::string::npos ? "" : field.substr(eq + 1);
    if (eq == std::string::npos || value.empty()) {
      return Status(Code::kInvalidArgument, "invalid --secret " + std::string(spec) +
                                                ": expected key=value in \"" + field + "\"");
    }
    if (key == "id") {
      s.id = value;
    } else if (key == "src" || key == "source") {
      s.path = value;
    } else if (key == "env") {
      s.env = value;
    } else if (key == "type") {
      if (value != "file" && value != "env") {
        return Status(Code::kInvalidArgument, "invalid --secret " + std::string(spec) +
                                                  ": type must be file or env, not " + value);
      }
      type = value;
    } else {
      return Status(Code::kInvalidArgument, "invalid --secret " + std::string(spec) +
                                                ": unknown key " + key +
                                                " (id, src, env, type are accepted)");
    }
  }
  if (s.id.empty()) {
    if (s.path.empty() && s.env.empty()) {
      return Status(Code::kInvalidArgument, "invalid --secret " + std::string(spec) + ": no id");
    }
    s.id = s.path.empty() ? s.env : s.path.substr(s.path.rfind('/') + 1);
  }
  if (!s.path.empty() && !s.env.empty()) {
    return Status(Code::kInvalidArgument,
                  "invalid --secret " + std::string(spec) + ": src and env exclude each other");
  }
  if (type == "env" && !s.path.empty()) {
    s.env = s.path;
    s.path.clear();
  }
  if (s.path.empty() && s.env.empty()) {
    if (type == "file")
      s.path = s.id;
    else
      s.env = s.id;
  }
  return s;
}

Result<std::string> ReadSecret(const SecretSource& s) {
  std::string data;
  if (!s.env.empty()) {
    const char* v = std::getenv(s.env.c_str());
    if (v == nullptr) {
      return Status(Code::kNotFound,
                    "secret " + s.id + ": environment variable " + s.env + " is not set");
    }
    data = v;
  } else {
    std::ifstream f(s.path, std::ios::binary);
    if (!f) return Status(Code::kNotFound, "secret " + s.id + ": cannot read " + s.path);
    data.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  if (data.size() > kMaxSecretBytes) {
    return Status(Code::kInvalidArgument, "secret " + s.id + " is larger than 500 KiB");
  }
  return data;
}

}  // namespace hoist::engine

namespace hoist::engine {

Status MirrorTree(const std::string& src_root, const std::string& rel, const std::string& dst,
                  const std::function<bool(const std::string&)>& excluded, bool copy) {
  std::string from = rel.empty() ? src_root : src_root + "/" + rel;
  struct stat st;
  if (::stat(from.c_str(), &st) != 0) return ErrnoStatus("stat", "/" + rel);
  if (!S_ISDIR(st.st_mode)) {
    if (!copy && ::link(from.c_str(), dst.c_str()) == 0) return Status::Ok();
    return CopyFileTo(from, dst);
  }
  TreeCopyOptions o;
  o.copy = copy;
  o.excluded = [&](const std::string& sub) {
    return excluded(rel.empty() ? sub : rel + "/" + sub);
  };
  return CopyTree(from, dst, o);
}

}  // namespace hoist::engine
