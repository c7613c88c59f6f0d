#include "registry/access.h"

#include <crypt.h>
#include <fnmatch.h>
#include <openssl/crypto.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/names.h"
#include "common/url.h"

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

namespace {

// The three repository actions a token may grant, by name.
const Action kActions[] = {Action::kPull, Action::kPush, Action::kDelete};

// Splits "Basic <base64(user:password)>"; false when malformed.
bool ParseBasic(const std::string& value, std::string* user, std::string* password) {
  Result<std::string> raw = Base64Decode(value);
  size_t colon = raw.ok() ? raw->find(':') : std::string::npos;
  if (colon == std::string::npos) return false;
  *user = raw->substr(0, colon);
  *password = raw->substr(colon + 1);
  return true;
}

bool HasScheme(const std::string& value, std::string_view scheme) {
  return value.size() > scheme.size() && http::IEquals(value.substr(0, scheme.size()), scheme) &&
         value[scheme.size()] == ' ';
}

// A Host header fit to go inside a quoted challenge parameter.
std::string SafeHost(const std::string* host) {
  std::string out;
  if (host == nullptr) return out;
  for (char c : *host) {
    if (std::isalnum(static_cast<unsigned char>(c)) || std::strchr(".-:[]", c)) out += c;
  }
  return out;
}

}  // namespace

Result<Identity> Gate::Authenticate(const http::Request& req) const {
  const std::string* auth = req.Header("Authorization");
  if (!enabled() || auth == nullptr) return Identity{};
  if (o_.verifier) {
    if (!HasScheme(*auth, "Bearer")) {
      return Status(Code::kUnauthorized, "this registry takes bearer tokens (want Bearer)");
    }
    Result<TokenClaims> claims_r =
        o_.verifier->Verify(auth->substr(7), static_cast<int64_t>(::time(nullptr)));
    if (!claims_r.ok()) return claims_r.status();
    TokenClaims claims = std::move(*claims_r);
    Identity who{claims.subject, std::move(claims)};
    return who;
  }
  if (!HasScheme(*auth, "Basic")) {
    return Status(Code::kUnauthorized, "unsupported authorization scheme (want Basic)");
  }
  std::string user, password;
  if (!ParseBasic(auth->substr(6), &user, &password)) {
    return Status(Code::kUnauthorized, "malformed Basic credentials");
  }
  if (!o_.htpasswd || !o_.htpasswd->Verify(user, password)) {
    return Status(Code::kUnauthorized, "invalid username or password");
  }
  return Identity{user, std::nullopt};
}

bool Gate::Allows(const Identity& who, const std::string& repo, Action a) const {
  if (!enabled()) return true;
  if (o_.verifier) return who.token && who.token->Grants("repository", repo, ActionName(a));
  if (o_.policy) return o_.policy->Allows(who, repo, a);
  return !who.anonymous();  // htpasswd without a policy: any signed-in user
}

bool Gate::AllowsCatalog(const Identity& who) const {
  if (!o_.verifier) return true;  // filtered by Lists
  return who.token && who.token->Grants("registry", "catalog", "*");
}

bool Gate::Lists(const Identity& who, const std::string& repo) const {
  if (!enabled()) return true;
  // A token granted the catalog; the policy, where there is one, says
  // which names its user may see.
  if (o_.verifier && !o_.policy) return true;
  Identity plain{who.user, std::nullopt};
  if (o_.policy) return o_.policy->Allows(plain, repo, Action::kPull);
  return !who.anonymous();
}

Status Gate::Refusal(const Identity& who, const ResourceActions& need) const {
  std::string action = need.actions.empty() ? "use" : *need.actions.begin();
  std::string what =
      action + " " + (need.type == "repository" ? need.name : need.type + ":" + need.name);
  if (o_.verifier && who.token) {
    // A token that lacks the scope: worth a wider one only where the
    // policy would grant it (and always when the issuer is not ours).
    bool policy_denies = false;
    if (o_.policy && !who.anonymous() && need.type == "repository") {
      for (Action a : kActions) {
        if (action == ActionName(a)) {
          policy_denies = !o_.policy->Allows(Identity{who.user, std::nullopt}, need.name, a);
        }
      }
    }
    if (policy_denies) return Status(Code::kDenied, who.user + " may not " + what);
    return Status(Code::kUnauthorized, "insufficient scope: the token does not grant " + what);
  }
  if (who.anonymous()) return Status(Code::kUnauthorized, "authentication required to " + what);
  return Status(Code::kDenied, who.user + " may not " + what);
}

std::string Gate::Challenge(const http::Request& req, const std::string& scope,
                            const Result<Identity>& who) const {
  if (!o_.verifier) return BasicChallenge();
  const std::string* auth = req.Header("Authorization");
  std::string error;
  if (!who.ok() && auth != nullptr && HasScheme(*auth, "Bearer")) error = "invalid_token";
  if (who.ok() && who->token) error = "insufficient_scope";
  const TokenSettings& s = o_.verifier->settings();
  std::string realm = s.realm;
  if (realm.empty()) {
    realm =
        std::string(req.tls ? "https" : "http") + "://" + SafeHost(req.Header("Host")) + "/token";
  }
  std::string out = "Bearer realm=\"" + realm + "\",service=\"" + s.service + "\"";
  if (!scope.empty()) out += ",scope=\"" + scope + "\"";
  if (!error.empty()) out += ",error=\"" + error + "\"";
  return out;
}

Result<std::string> Gate::IssueToken(const http::Request& req, const std::string& form_body) const {
  // Who asks: Basic credentials (the token spec's GET), the OAuth2
  // password grant's form fields (RFC 6749 §4.3), or nobody.
  std::string user, password;
  bool signing_in = false;
  const std::string* auth = req.Header("Authorization");
  if (auth != nullptr) {
    if (!HasScheme(*auth, "Basic") || !ParseBasic(auth->substr(6), &user, &password)) {
      return Status(Code::kUnauthorized, "the token endpoint takes Basic credentials");
    }
    signing_in = true;
  }
  std::vector<std::string> scopes = req.QueryAll("scope");
  if (req.method == "POST") {
    url::Query form = url::ParseQuery(form_body);
    std::string grant = url::QueryValue(form, "grant_type").value_or("");
    if (grant != "password") {
      return Status(Code::kInvalidArgument,
                    "unsupported grant_type \"" + grant + "\" (want password)");
    }
    user = url::QueryValue(form, "username").value_or("");
    password = url::QueryValue(form, "password").value_or("");
    signing_in = true;
    for (std::string& sc : url::QueryValues(form, "scope")) {
      // a form's scope is space-separated (RFC 6749 §3.3)
      size_t pos = 0;
      while (pos < sc.size()) {
        size_t sp = sc.find(' ', pos);
        if (sp == std::string::npos) sp = sc.size();
        if (sp > pos) scopes.push_back(sc.substr(pos, sp - pos));
        pos = sp + 1;
      }
    }
  }
  if (signing_in && (!o_.htpasswd || !o_.htpasswd->Verify(user, password))) {
    return Status(Code::kUnauthorized, "invalid username or password");
  }
  if (!signing_in) user.clear();
  Identity who{user, std::nullopt};
  std::vector<ResourceActions> granted;
  for (const std::string& sc : scopes) {
    Result<ResourceActions> want_r = ResourceActions::ParseScope(sc);
    if (!want_r.ok()) return want_r.status();
    ResourceActions want = std::move(*want_r);
    ResourceActions grant{want.type, want.name, {}};
    if (want.type == "repository") {
      if (!ValidateRepositoryName(want.name).ok()) {
        return Status(Code::kInvalidArgument, "invalid repository name in scope \"" + sc + "\"");
      }
      for (Action a : kActions) {
        bool asked = want.actions.count(ActionName(a)) || want.actions.count("*");
        bool allowed = o_.policy ? o_.policy->Allows(who, want.name, a) : !who.anonymous();
        if (asked && allowed) grant.actions.insert(ActionName(a));
      }
    } else if (want.type == "registry" && want.name == "catalog" && want.actions.count("*")) {
      grant.actions.insert("*");  // the catalog lists what the policy lets the user pull
    }
    if (!grant.actions.empty()) granted.push_back(std::move(grant));
  }
  int64_t now = static_cast<int64_t>(::time(nullptr));
  Result<std::string> token_r = o_.issuer->Issue(user, granted, now);
  if (!token_r.ok()) return token_r.status();
  std::string token = std::move(*token_r);
  char issued[32];
  std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(issued, sizeof issued, "%Y-%m-%dT%H:%M:%SZ", &tm);
  nlohmann::json body = {{"token", token},
                         {"access_token", token},
                         {"expires_in", o_.issuer->ttl()},
                         {"issued_at", issued}};
  return body.dump();
}

}  // namespace hoist::registry
