// Who may do what: authentication and access control for the registry,
// applied in one place (Api::Handle, before any handler runs), so no
// handler can forget them.
//
//   - Basic authentication from an htpasswd file with bcrypt hashes (the
//     file `htpasswd -B` writes and registry:2 reads), checked by libcrypt.
//   - An access policy (YAML): per repository pattern, who may pull, push
//     and delete; without one, every signed-in user may do everything and
//     anonymous clients nothing (registry:2's htpasswd behaviour).
//
// Refusals follow the distribution spec: 401 UNAUTHORIZED with a
// `WWW-Authenticate` challenge when the client is not signed in (or its
// credentials are wrong), 403 DENIED when it is signed in without the right.
//
// Policy file:
//
//   groups:
//     admins: [alice]
//   repositories:              # first match wins; no match: nothing allowed
//     - match: "public/*"      # a shell pattern over the whole name ('*' crosses '/')
//       pull: [anonymous]      # anyone, signed in or not
//       push: ["@admins", bob] # users and @groups
//       delete: ["@admins"]
//     - match: "*"
//       pull: [authenticated]  # any signed-in user
//       push: [authenticated]
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "registry/http/server.h"

namespace hoist::registry {

enum class Action { kPull, kPush, kDelete };
const char* ActionName(Action a);

struct Identity {
  std::string user;  // empty: anonymous
  bool anonymous() const { return user.empty(); }
};

// user -> bcrypt hash. Safe for concurrent use once loaded.
class Htpasswd {
 public:
  // Lines "user:$2y$..." ($2a$, $2b$ and $2y$ bcrypt); blank lines and
  // '#' comments skipped. kInvalidArgument naming the line for anything
  // else (other hash schemes are refused, as registry:2 does).
  static Result<Htpasswd> Load(const std::string& path);
  // True when `user` exists and `password` matches its hash.
  bool Verify(const std::string& user, const std::string& password) const;
  size_t size() const { return hashes_.size(); }

 private:
  std::map<std::string, std::string> hashes_;
};

class AccessPolicy {
 public:
  // kInvalidArgument naming the file and the key for a malformed policy.
  static Result<AccessPolicy> Load(const std::string& path);
  // The policy without a file: signed-in users may do everything.
  static AccessPolicy AuthenticatedMayAll();

  bool Allows(const Identity& who, const std::string& repo, Action a) const;

 private:
  struct Rule {
    std::string pattern;
    std::vector<std::string> who[3];  // by Action
  };
  bool Names(const std::string& principal, const Identity& who) const;

  std::vector<Rule> rules_;
  std::map<std::string, std::set<std::string>> groups_;
};

// Authentication and authorisation of requests. With neither htpasswd nor
// policy, everyone may do everything (a loopback development registry).
class Gate {
 public:
  Gate() = default;
  Gate(std::optional<Htpasswd> htpasswd, std::optional<AccessPolicy> policy, std::string realm);

  bool enabled() const { return htpasswd_.has_value() || policy_.has_value(); }
  // The caller's identity: anonymous without an Authorization header;
  // kUnauthorized for wrong or malformed credentials.
  Result<Identity> Authenticate(const http::Request& req) const;
  bool Allows(const Identity& who, const std::string& repo, Action a) const;
  // A refusal in the spec's terms: 401 with a challenge for anonymous
  // callers, 403 DENIED for signed-in ones.
  Status Refusal(const Identity& who, const std::string& what) const;
  // The WWW-Authenticate value 401 answers carry.
  std::string Challenge() const;

 private:
  std::optional<Htpasswd> htpasswd_;
  std::optional<AccessPolicy> policy_;
  std::string realm_ = "hoist";
};

}  // namespace hoist::registry
