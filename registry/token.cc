#include "registry/token.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base64.h"

namespace hoist::registry {

// The keys behind the tokens: each trusted certificate's public key (PEM,
// as libjwt reads it) with the algorithms it may sign with, and the
// issuer's own private key with the certificate "x5c" names.
class TokenKeys {
 public:
  struct Trusted {
    std::string public_pem;
    std::set<std::string> algs;
    std::string cert_der_b64;
    std::shared_ptr<EVP_PKEY> key;
  };
  std::vector<Trusted> trusted;
  std::string signing_pem;
  std::string signing_alg;
  std::string signing_cert_b64;
};

namespace {

constexpr int64_t kLeewaySeconds = 60;  // distribution's token.go: 60 s either way

Status Unauthorized(const std::string& why) {
  return Status(Code::kUnauthorized, "invalid token: " + why);
}

Result<std::string> ReadFile(const std::string& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kInvalidArgument, what + " " + path + ": cannot read it");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

using Bio = std::unique_ptr<BIO, decltype(&BIO_free)>;

std::string BioString(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

// The JWS algorithms (RFC 7518 §3.1) a key of this type may sign with.
std::set<std::string> AlgorithmsFor(EVP_PKEY* key) {
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      return {"RS256", "RS384", "RS512"};
    case EVP_PKEY_EC:
      switch (EVP_PKEY_get_bits(key)) {
        case 256:
          return {"ES256"};
        case 384:
          return {"ES384"};
        case 521:
          return {"ES512"};
      }
      break;
  }
  return {};
}

std::string SigningAlgorithm(EVP_PKEY* key) {
  std::set<std::string> algs = AlgorithmsFor(key);
  if (algs.count("RS256")) return "RS256";
  return algs.empty() ? "" : *algs.begin();
}

// Splits a compact JWS into its three parts; false when it is not one.
bool SplitJws(const std::string& token, std::string parts[3]) {
  size_t a = token.find('.');
  size_t b = a == std::string::npos ? a : token.find('.', a + 1);
  if (b == std::string::npos || token.find('.', b + 1) != std::string::npos) return false;
  parts[0] = token.substr(0, a);
  parts[1] = token.substr(a + 1, b - a - 1);
  parts[2] = token.substr(b + 1);
  return !parts[0].empty() && !parts[1].empty() && !parts[2].empty();
}

Result<nlohmann::json> DecodeSegment(const std::string& seg) {
  Result<std::string> raw = Base64Decode(seg);
  if (!raw.ok()) return Unauthorized("bad base64url");
  nlohmann::json j = nlohmann::json::parse(*raw, nullptr, false);
  if (!j.is_object()) return Unauthorized("a segment is not a JSON object");
  return j;
}

// True when libjwt verifies the signature of `token` with `pem`.
bool SignatureVerifies(const std::string& token, const std::string& pem) {
  jwt_t* jwt = nullptr;
  int rc = jwt_decode(&jwt, token.c_str(), reinterpret_cast<const unsigned char*>(pem.data()),
                      static_cast<int>(pem.size()));
  if (jwt != nullptr) jwt_free(jwt);
  return rc == 0;
}

bool AudienceMatches(const nlohmann::json& aud, const std::string& service) {
  if (aud.is_string()) return aud.get<std::string>() == service;
  if (aud.is_array()) {
    for (const auto& a : aud) {
      if (a.is_string() && a.get<std::string>() == service) return true;
    }
  }
  return false;
}

}  // namespace

Result<ResourceActions> ResourceActions::ParseScope(const std::string& scope) {
  size_t first = scope.find(':');
  size_t last = scope.rfind(':');
  if (first == std::string::npos || first == last || first == 0 || last == first + 1) {
    return Status(Code::kInvalidArgument, "malformed scope \"" + scope + "\"");
  }
  ResourceActions r;
  r.type = scope.substr(0, first);
  size_t paren = r.type.find('(');  // a resource class: "repository(plugin)"
  if (paren != std::string::npos) r.type.resize(paren);
  r.name = scope.substr(first + 1, last - first - 1);
  std::string acts = scope.substr(last + 1);
  size_t pos = 0;
  while (pos <= acts.size()) {
    size_t comma = acts.find(',', pos);
    if (comma == std::string::npos) comma = acts.size();
    if (comma > pos) r.actions.insert(acts.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return r;
}

std::string ResourceActions::ScopeString() const {
  std::string s = type + ":" + name + ":";
  bool first = true;
  for (const std::string& a : actions) {
    if (!first) s += ",";
    s += a;
    first = false;
  }
  return s;
}

bool TokenClaims::Grants(const std::string& type, const std::string& name,
                         const std::string& action) const {
  for (const ResourceActions& r : access) {
    if (r.type == type && r.name == name && r.Grants(action)) return true;
  }
  return false;
}

Result<TokenVerifier> TokenVerifier::Load(const TokenSettings& s) {
  if (s.service.empty() || s.issuer.empty()) {
    return Status(Code::kInvalidArgument, "token authentication needs a service and an issuer");
  }
  Result<std::string> pem_r = ReadFile(s.cert_bundle, "token certificate bundle");
  if (!pem_r.ok()) return pem_r.status();
  std::string pem = std::move(*pem_r);
  auto keys = std::make_shared<TokenKeys>();
  Bio in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  while (X509* cert = PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr)) {
    std::unique_ptr<X509, decltype(&X509_free)> owned(cert, X509_free);
    EVP_PKEY* pub = X509_get0_pubkey(cert);
    TokenKeys::Trusted t;
    t.algs = pub == nullptr ? std::set<std::string>{} : AlgorithmsFor(pub);
    if (t.algs.empty()) continue;  // neither RSA nor a NIST curve: it signs no JWT
    Bio out(BIO_new(BIO_s_mem()), BIO_free);
    if (PEM_write_bio_PUBKEY(out.get(), pub) != 1) continue;
    t.public_pem = BioString(out.get());
    unsigned char* der = nullptr;
    int n = i2d_X509(cert, &der);
    if (n <= 0) continue;
    t.cert_der_b64 = Base64Encode(std::string_view(reinterpret_cast<char*>(der), n));
    OPENSSL_free(der);
    EVP_PKEY_up_ref(pub);
    t.key.reset(pub, EVP_PKEY_free);
    keys->trusted.push_back(std::move(t));
  }
  if (keys->trusted.empty()) {
    return Status(Code::kInvalidArgument,
                  "token certificate bundle " + s.cert_bundle + ": no RSA or EC certificate in it");
  }
  TokenVerifier v;
  v.settings_ = s;
  v.keys_ = std::move(keys);
  return v;
}

Result<TokenClaims> TokenVerifier::Verify(const std::string& token, int64_t now) const {
  std::string parts[3];
  if (!SplitJws(token, parts)) return Unauthorized("not a JWS in compact form");
  Result<nlohmann::json> header_r = DecodeSegment(parts[0]);
  if (!header_r.ok()) return header_r.status();
  nlohmann::json header = std::move(*header_r);
  if (!header.contains("alg") || !header["alg"].is_string()) return Unauthorized("no alg");
  std::string alg = header["alg"].get<std::string>();
  bool verified = false;
  for (const TokenKeys::Trusted& t : keys_->trusted) {
    // The algorithm must be one the key signs with: "none" and HS256 never are.
    if (t.algs.count(alg) && SignatureVerifies(token, t.public_pem)) {
      verified = true;
      break;
    }
  }
  if (!verified) return Unauthorized("not signed by a trusted key (alg " + alg + ")");
  Result<nlohmann::json> claims_r = DecodeSegment(parts[1]);
  if (!claims_r.ok()) return claims_r.status();
  nlohmann::json claims = std::move(*claims_r);
  auto str = [&](const char* k) {
    return claims.contains(k) && claims[k].is_string() ? claims[k].get<std::string>() : "";
  };
  if (str("iss") != settings_.issuer) return Unauthorized("issued by \"" + str("iss") + "\"");
  if (!claims.contains("aud") || !AudienceMatches(claims["aud"], settings_.service)) {
    return Unauthorized("for another service");
  }
  if (!claims.contains("exp") || !claims["exp"].is_number()) return Unauthorized("no exp");
  TokenClaims out;
  out.expires = claims["exp"].get<int64_t>();
  if (now > out.expires + kLeewaySeconds) return Unauthorized("expired");
  if (claims.contains("nbf") && claims["nbf"].is_number() &&
      now + kLeewaySeconds < claims["nbf"].get<int64_t>()) {
    return Unauthorized("not valid yet");
  }
  out.subject = str("sub");
  if (claims.contains("access")) {
    if (!claims["access"].is_array()) return Unauthorized("access is not a list");
    for (const auto& a : claims["access"]) {
      if (!a.is_object() || !a.value("type", nlohmann::json()).is_string() ||
          !a.value("name", nlohmann::json()).is_string()) {
        return Unauthorized("malformed access entry");
      }
      ResourceActions r;
      r.type = a["type"].get<std::string>();
      r.name = a["name"].get<std::string>();
      if (a.contains("actions") && a["actions"].is_array()) {
        for (const auto& act : a["actions"]) {
          if (act.is_string()) r.actions.insert(act.get<std::string>());
        }
      }
      out.access.push_back(std::move(r));
    }
  }
  return out;
}

Result<TokenIssuer> TokenIssuer::Load(const TokenSettings& s, const TokenVerifier& verifier) {
  Result<std::string> pem_r = ReadFile(s.signing_key, "token signing key");
  if (!pem_r.ok()) return pem_r.status();
  std::string pem = std::move(*pem_r);
  Bio in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (!key) {
    return Status(Code::kInvalidArgument,
                  "token signing key " + s.signing_key + ": not an unencrypted PEM private key");
  }
  auto keys = std::make_shared<TokenKeys>(verifier.keys());
  keys->signing_alg = SigningAlgorithm(key.get());
  if (keys->signing_alg.empty()) {
    return Status(Code::kInvalidArgument,
                  "token signing key " + s.signing_key + ": want RSA or EC P-256/384/521");
  }
  for (const TokenKeys::Trusted& t : keys->trusted) {
    if (EVP_PKEY_eq(t.key.get(), key.get()) == 1) keys->signing_cert_b64 = t.cert_der_b64;
  }
  if (keys->signing_cert_b64.empty()) {
    return Status(Code::kInvalidArgument, "token signing key " + s.signing_key +
                                              ": its certificate is not in " + s.cert_bundle);
  }
  Bio out(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  keys->signing_pem = BioString(out.get());
  TokenIssuer issuer;
  issuer.settings_ = s;
  issuer.keys_ = std::move(keys);
  return issuer;
}

Result<std::string> TokenIssuer::Issue(const std::string& subject,
                                       const std::vector<ResourceActions>& access,
                                       int64_t now) const {
  nlohmann::json acc = nlohmann::json::array();
  for (const ResourceActions& r : access) {
    acc.push_back({{"type", r.type}, {"name", r.name}, {"actions", r.actions}});
  }
  static std::atomic<uint64_t> serial{0};
  nlohmann::json claims = {
      {"iss", settings_.issuer},
      {"sub", subject},
      {"aud", settings_.service},
      {"exp", now + settings_.ttl_seconds},
      {"nbf", now},
      {"iat", now},
      {"jti", std::to_string(now) + "-" + std::to_string(serial.fetch_add(1))},
      {"access", acc},
  };
  std::unique_ptr<jwt_t, decltype(&jwt_free)> jwt(nullptr, jwt_free);
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return Status(Code::kInternal, "jwt_new failed");
  jwt.reset(raw);
  nlohmann::json header = {{"x5c", {keys_->signing_cert_b64}}};
  const auto* key = reinterpret_cast<const unsigned char*>(keys_->signing_pem.data());
  if (jwt_add_headers_json(raw, header.dump().c_str()) != 0 ||
      jwt_add_grants_json(raw, claims.dump().c_str()) != 0 ||
      jwt_set_alg(raw, jwt_str_alg(keys_->signing_alg.c_str()), key,
                  static_cast<int>(keys_->signing_pem.size())) != 0) {
    return Status(Code::kInternal, "cannot assemble the token");
  }
  char* encoded = jwt_encode_str(raw);
  if (encoded == nullptr) return Status(Code::kInternal, "cannot sign the token");
  std::string token(encoded);
  std::free(encoded);  // libjwt 1.10: malloc(3)ed
  return token;
}

}  // namespace hoist::registry
