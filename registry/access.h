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
#include "registry/token.h"

namespace hoist::registry {

enum class Action { kPull, kPush, kDelete };
const char* ActionName(Action a);

struct Identity {
  Identity() = default;
  explicit Identity(std::string u, std::optional<TokenClaims> t = std::nullopt)
      : user(std::move(u)), token(std::move(t)) {}
  std::string user;                  // empty: anonymous
  std::optional<TokenClaims> token;  // signed in with a bearer token (token.h)
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

// Authentication and authorisation of requests, in one of three modes:
//   - open: neither htpasswd, policy nor tokens; everyone may do
//     everything (a loopback development registry);
//   - Basic: the htpasswd file signs users in on every request;
//   - token: requests carry bearer tokens (token.h) that grant scopes;
//     with a signing key the registry issues them itself at /token,
//     signing users in with the htpasswd file and granting what the
//     policy allows them.
// The policy (or, without one, "signed-in users may do everything")
// decides in the first two modes and when issuing tokens.
class Gate {
 public:
  struct Options {
    std::optional<Htpasswd> htpasswd;
    std::optional<AccessPolicy> policy;
    std::string realm = "hoist";  // of Basic challenges
    std::optional<TokenVerifier> verifier;
    std::optional<TokenIssuer> issuer;
  };
  Gate() = default;
  explicit Gate(Options o) : o_(std::move(o)) {}

  bool enabled() const { return o_.htpasswd || o_.policy || o_.verifier; }
  bool issuing() const { return o_.issuer.has_value(); }
  // The caller's identity: anonymous without an Authorization header;
  // kUnauthorized for wrong or malformed credentials or a bad token.
  Result<Identity> Authenticate(const http::Request& req) const;
  // May `who` do `a` on `repo`? With a token: does it grant that?
  bool Allows(const Identity& who, const std::string& repo, Action a) const;
  // Does `who` see `repo` in the catalog (once the catalog is allowed)?
  bool Lists(const Identity& who, const std::string& repo) const;
  // May `who` read the catalog at all? (tokens: registry:catalog:*)
  bool AllowsCatalog(const Identity& who) const;
  // A refusal of `need` in the spec's terms: 401 for anonymous callers
  // and for tokens that lack a scope the policy would grant (so the
  // client fetches a wider one), 403 DENIED for signed-in users without
  // the right.
  Status Refusal(const Identity& who, const ResourceActions& need) const;
  // The WWW-Authenticate value of a 401 answer to `req`, whose
  // authentication gave `who`. `scope`: what the request needs ("" for
  // none). With tokens, RFC 6750 §3.1's error: invalid_token for a bearer
  // token that did not authenticate, insufficient_scope for one that did.
  std::string Challenge(const http::Request& req, const std::string& scope,
                        const Result<Identity>& who) const;
  // The challenge of the token endpoint, which takes Basic credentials.
  std::string BasicChallenge() const { return "Basic realm=\"" + o_.realm + "\""; }

  // The token endpoint (GET with optional Basic credentials, or the
  // OAuth2 password grant as a form): the JSON answer, kUnauthorized for
  // wrong credentials, kInvalidArgument for a malformed scope.
  Result<std::string> IssueToken(const http::Request& req, const std::string& form_body) const;

 private:
  Options o_;
};

}  // namespace hoist::registry
