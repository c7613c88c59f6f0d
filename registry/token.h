// Bearer tokens, as distribution's token authentication specification
// describes them (docs/spec/auth/token.md and jwt.md in distribution 2.8):
//
//   - a registry answers an unauthenticated request with
//       WWW-Authenticate: Bearer realm="<token URL>",service="<name>",
//                         scope="repository:<name>:pull,push"
//   - the client asks the realm for a token for those scopes (GET with
//     Basic credentials, or the OAuth2 password grant as a POST form), and
//     retries with "Authorization: Bearer <JWT>";
//   - the JWT (JWS compact form, RS256/ES256 and their larger siblings) is
//     signed by a key whose certificate the registry trusts
//     (`rootcertbundle`), and carries iss, aud (the service), exp, nbf and
//     an "access" claim: [{type, name, actions}].
//
// TokenVerifier checks tokens from any issuer that follows the spec;
// TokenIssuer is hoist's own issuer (`/token` on the registry), whose
// tokens distribution 2.8 accepts too: the header names the signing
// certificate in "x5c", which distribution verifies against its bundle.
// Signatures go through libjwt (OpenSSL); the key's type decides the
// algorithm, and a token naming another algorithm is refused before any
// check (no "none", no HMAC keyed with a public key).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace hoist::registry {

// One entry of a scope or of an access claim: "repository:library/app:pull,push"
// or "registry:catalog:*".
struct ResourceActions {
  std::string type;  // "repository", "registry"
  std::string name;  // repository name, or "catalog"
  std::set<std::string> actions;

  // "type:name:a,b". Repository names never hold ':' but a type may carry
  // a class ("repository(plugin):name"); the name is between the first
  // and the last ':'.
  static Result<ResourceActions> ParseScope(const std::string& scope);
  std::string ScopeString() const;
  bool Grants(const std::string& action) const {
    return actions.count(action) > 0 || actions.count("*") > 0;
  }
};

// What a verified token says.
struct TokenClaims {
  std::string subject;  // "sub": the user it was issued to; empty: anonymous
  int64_t expires = 0;  // "exp", seconds since the epoch
  std::vector<ResourceActions> access;

  bool Grants(const std::string& type, const std::string& name, const std::string& action) const;
};

struct TokenSettings {
  std::string realm;    // where clients get tokens; empty: this registry's /token
  std::string service;  // the audience
  std::string issuer;
  std::string cert_bundle;  // PEM certificates whose keys sign tokens
  std::string signing_key;  // PEM private key: issue tokens at /token
  int64_t ttl_seconds = 300;
};

class TokenKeys;  // token.cc: the bundle's public keys, the signing key

class TokenVerifier {
 public:
  // kInvalidArgument naming the file for a bundle without certificates.
  static Result<TokenVerifier> Load(const TokenSettings& s);

  // kUnauthorized, with the reason, for a token that is malformed, not
  // signed by a trusted key, for another issuer or service, expired or
  // not yet valid (60 seconds of leeway either way, as distribution).
  Result<TokenClaims> Verify(const std::string& token, int64_t now) const;

  const TokenSettings& settings() const { return settings_; }
  const TokenKeys& keys() const { return *keys_; }

 private:
  TokenSettings settings_;
  std::shared_ptr<const TokenKeys> keys_;
};

class TokenIssuer {
 public:
  // Needs settings.signing_key and, in the bundle, the certificate of
  // that key (the one put in "x5c"); kInvalidArgument otherwise.
  static Result<TokenIssuer> Load(const TokenSettings& s, const TokenVerifier& verifier);

  // A signed token for `subject` (empty: anonymous) granting `access`.
  Result<std::string> Issue(const std::string& subject, const std::vector<ResourceActions>& access,
                            int64_t now) const;
  int64_t ttl() const { return settings_.ttl_seconds; }

 private:
  TokenSettings settings_;
  std::shared_ptr<const TokenKeys> keys_;
};

}  // namespace hoist::registry
