#include "registry/access.h"

#include <crypt.h>
#include <fnmatch.h>
#include <openssl/crypto.h>
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <fstream>
#include <memory>

#include "common/base64.h"

namespace hoist::registry {
namespace {

bool IsBcrypt(const std::string& h) {
  return h.size() == 60 &&
         (h.rfind("$2a$", 0) == 0 || h.rfind("$2b$", 0) == 0 || h.rfind("$2y$", 0) == 0);
}

Status Bad(const std::string& where, const std::string& what) {
  return Status(Code::kInvalidArgument, where + ": " + what);
}

}  // namespace

const char* ActionName(Action a) {
  switch (a) {
    case Action::kPull:
      return "pull";
    case Action::kPush:
      return "push";
    case Action::kDelete:
      return "delete";
  }
  return "?";
}

Result<Htpasswd> Htpasswd::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Code::kInvalidArgument, "htpasswd file " + path + ": cannot read it");
  Htpasswd out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    size_t colon = line.find(':');
    std::string where = path + ":" + std::to_string(n);
    if (colon == std::string::npos || colon == 0) return Bad(where, "want user:bcrypt-hash");
    std::string hash = line.substr(colon + 1);
    if (!IsBcrypt(hash)) {
      return Bad(where, "the hash of " + line.substr(0, colon) +
                            " is not bcrypt (make it with htpasswd -B)");
    }
    out.hashes_[line.substr(0, colon)] = hash;
  }
  return out;
}

bool Htpasswd::Verify(const std::string& user, const std::string& password) const {
  auto it = hashes_.find(user);
  // An unknown user costs a bcrypt run too, so timing does not tell users
  // apart: a hash of the same cost, made once.
  static const std::string kDummy = [] {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    struct crypt_data data {};
    if (::crypt_gensalt_rn("$2b$", 10, nullptr, 0, salt, sizeof salt) == nullptr)
      return std::string();
    const char* h = ::crypt_r("not a password", salt, &data);
    return std::string(h != nullptr ? h : "");
  }();
  const std::string& hash = it == hashes_.end() ? kDummy : it->second;
  auto data = std::make_unique<struct crypt_data>();
  const char* got = ::crypt_r(password.c_str(), hash.c_str(), data.get());
  bool same = got != nullptr && std::strlen(got) == hash.size() &&
              CRYPTO_memcmp(got, hash.data(), hash.size()) == 0;
  return same && it != hashes_.end();
}

Result<AccessPolicy> AccessPolicy::Load(const std::string& path) {
  AccessPolicy p;
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsMap()) return Bad(path, "expected a mapping with groups and repositories");
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      if (key != "groups" && key != "repositories") {
        return Bad(path, "unknown key \"" + key + "\" (allowed: groups, repositories)");
      }
    }
    if (YAML::Node groups = root["groups"]) {
      if (!groups.IsMap()) return Bad(path, "groups: expected a mapping of group -> [users]");
      for (const auto& g : groups) {
        if (!g.second.IsSequence())
          return Bad(path, "groups." + g.first.as<std::string>() + ": expected a list of users");
        for (const auto& u : g.second)
          p.groups_[g.first.as<std::string>()].insert(u.as<std::string>());
      }
    }
    YAML::Node repos = root["repositories"];
    if (!repos || !repos.IsSequence()) return Bad(path, "repositories: expected a list of rules");
    int i = 0;
    for (const auto& r : repos) {
      std::string where = "repositories[" + std::to_string(i++) + "]";
      if (!r.IsMap()) return Bad(path, where + ": expected a mapping");
      Rule rule;
      for (const auto& kv : r) {
        std::string key = kv.first.as<std::string>();
        int slot = key == "pull" ? 0 : key == "push" ? 1 : key == "delete" ? 2 : -1;
        if (key == "match") {
          rule.pattern = kv.second.as<std::string>();
        } else if (slot >= 0) {
          if (!kv.second.IsSequence()) return Bad(path, where + "." + key + ": expected a list");
          for (const auto& w : kv.second) {
            std::string who = w.as<std::string>();
            if (who.size() > 1 && who[0] == '@' && p.groups_.count(who.substr(1)) == 0) {
              return Bad(path, where + "." + key + ": unknown group " + who);
            }
            rule.who[slot].push_back(who);
          }
        } else {
          return Bad(path,
                     where + ": unknown key \"" + key + "\" (allowed: match, pull, push, delete)");
        }
      }
      if (rule.pattern.empty()) return Bad(path, where + ": match is required");
      p.rules_.push_back(std::move(rule));
    }
  } catch (const YAML::Exception& e) {
    return Bad(path, e.what());
  }
  return p;
}

AccessPolicy AccessPolicy::AuthenticatedMayAll() {
  AccessPolicy p;
  Rule all;
  all.pattern = "*";
  for (auto& w : all.who) w = {"authenticated"};
  p.rules_.push_back(std::move(all));
  return p;
}

bool AccessPolicy::Names(const std::string& principal, const Identity& who) const {
  if (principal == "anonymous") return true;
  if (who.anonymous()) return false;
  if (principal == "authenticated") return true;
  if (principal.size() > 1 && principal[0] == '@') {
    auto g = groups_.find(principal.substr(1));
    return g != groups_.end() && g->second.count(who.user) > 0;
  }
  return principal == who.user;
}

bool AccessPolicy::Allows(const Identity& who, const std::string& repo, Action a) const {
  for (const Rule& r : rules_) {
    if (::fnmatch(r.pattern.c_str(), repo.c_str(), 0) != 0) continue;
    for (const std::string& p : r.who[static_cast<int>(a)]) {
      if (Names(p, who)) return true;
    }
    return false;  // the first matching rule decides
  }
  return false;
}

Gate::Gate(std::optional<Htpasswd> htpasswd, std::optional<AccessPolicy> policy, std::string realm)
    : htpasswd_(std::move(htpasswd)), policy_(std::move(policy)), realm_(std::move(realm)) {}

Result<Identity> Gate::Authenticate(const http::Request& req) const {
  const std::string* auth = req.Header("Authorization");
  if (!enabled() || auth == nullptr) return Identity{};
  if (auth->size() < 6 || !http::IEquals(auth->substr(0, 6), "Basic ")) {
    return Status(Code::kUnauthorized, "unsupported authorization scheme (want Basic)");
  }
  Result<std::string> raw = Base64Decode(auth->substr(6));
  size_t colon = raw.ok() ? raw->find(':') : std::string::npos;
  if (colon == std::string::npos) {
    return Status(Code::kUnauthorized, "malformed Basic credentials");
  }
  std::string user = raw->substr(0, colon);
  if (!htpasswd_ || !htpasswd_->Verify(user, raw->substr(colon + 1))) {
    return Status(Code::kUnauthorized, "invalid username or password");
  }
  return Identity{user};
}

bool Gate::Allows(const Identity& who, const std::string& repo, Action a) const {
  if (!enabled()) return true;
  if (policy_) return policy_->Allows(who, repo, a);
  return !who.anonymous();  // htpasswd without a policy: any signed-in user
}

Status Gate::Refusal(const Identity& who, const std::string& what) const {
  if (who.anonymous()) return Status(Code::kUnauthorized, "authentication required to " + what);
  return Status(Code::kDenied, who.user + " may not " + what);
}

std::string Gate::Challenge() const {
  return "Basic realm=\"" + realm_ + "\"";
}

}  // namespace hoist::registry
