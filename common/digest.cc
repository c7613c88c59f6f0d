#include "common/digest.h"

#include <openssl/evp.h>

namespace hoist {

std::string_view AlgorithmName(DigestAlgorithm a) {
  return a == DigestAlgorithm::kSha512 ? "sha512" : "sha256";
}

static size_t HexLength(DigestAlgorithm a) { return a == DigestAlgorithm::kSha512 ? 128 : 64; }

// image-spec grammar: algorithm ::= component (separator component)*,
// component ::= [a-z0-9]+, separator ::= [+._-]
static bool IsWellFormedAlgorithm(std::string_view name) {
  bool in_component = false;
  for (char c : name) {
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) {
      in_component = true;
    } else if ((c == '+' || c == '.' || c == '_' || c == '-') && in_component) {
      in_component = false;
    } else {
      return false;
    }
  }
  return in_component;
}

// image-spec: encoded ::= [a-zA-Z0-9=_-]+
static bool IsWellFormedEncoded(std::string_view enc) {
  if (enc.empty()) return false;
  for (char c : enc) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '=' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<DigestAlgorithm> ParseAlgorithm(std::string_view name) {
  if (name == "sha256") return DigestAlgorithm::kSha256;
  if (name == "sha512") return DigestAlgorithm::kSha512;
  if (!IsWellFormedAlgorithm(name)) return Status(Code::kDigestInvalid, "invalid digest algorithm");
  return Status(Code::kUnsupported, "unsupported digest algorithm " + std::string(name));
}

Result<Digest> Digest::Parse(std::string_view s) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status(Code::kDigestInvalid, "invalid digest \"" + std::string(s.substr(0, 200)) + "\"");
  }
  std::string_view hex = s.substr(colon + 1);
  Result<DigestAlgorithm> alg = ParseAlgorithm(s.substr(0, colon));
  if (!alg.ok()) {
    if (alg.status().code() == Code::kUnsupported && !IsWellFormedEncoded(hex)) {
      return Status(Code::kDigestInvalid, "invalid digest \"" + std::string(s.substr(0, 200)) + "\"");
    }
    return alg.status();
  }
  if (hex.size() != HexLength(*alg)) {
    return Status(Code::kDigestInvalid, "invalid " + std::string(AlgorithmName(*alg)) +
                                            " digest length in \"" +
                                            std::string(s.substr(0, 200)) + "\"");
  }
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Status(Code::kDigestInvalid, "digest must be lowercase hex: \"" +
                                              std::string(s.substr(0, 200)) + "\"");
    }
  }
  return Digest(*alg, std::string(hex));
}

Digest Digest::FromHex(DigestAlgorithm a, std::string hex) { return Digest(a, std::move(hex)); }

struct Digester::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Digester::Digester(DigestAlgorithm a) : algorithm_(a), impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, a == DigestAlgorithm::kSha512 ? EVP_sha512() : EVP_sha256(),
                    nullptr);
}

Digester::~Digester() { EVP_MD_CTX_free(impl_->ctx); }

void Digester::Update(const void* data, size_t n) {
  EVP_DigestUpdate(impl_->ctx, data, n);
  bytes_ += n;
}

Digest Digester::Current() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  EVP_MD_CTX_copy_ex(copy, impl_->ctx);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(copy, md, &len);
  EVP_MD_CTX_free(copy);
  static const char kHex[] = "0123456789abcdef";
  std::string hex(len * 2, '0');
  for (unsigned i = 0; i < len; ++i) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 15];
  }
  return Digest::FromHex(algorithm_, std::move(hex));
}

Digest DigestOf(std::string_view content, DigestAlgorithm a) {
  Digester d(a);
  d.Update(content);
  return d.Current();
}

}  // namespace hoist
