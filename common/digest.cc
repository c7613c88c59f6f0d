// The low-level SHA functions (see Digester::Impl).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "common/digest.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

namespace hoist {

std::string_view AlgorithmName(DigestAlgorithm a) {
  return a == DigestAlgorithm::kSha512 ? "sha512" : "sha256";
}

static size_t HexLength(DigestAlgorithm a) {
  return a == DigestAlgorithm::kSha512 ? 128 : 64;
}

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
      return Status(Code::kDigestInvalid,
                    "invalid digest \"" + std::string(s.substr(0, 200)) + "\"");
    }
    return alg.status();
  }
  if (hex.size() != HexLength(*alg)) {
    return Status(Code::kDigestInvalid, "invalid " + std::string(AlgorithmName(*alg)) +
                                            " digest length in \"" + std::string(s.substr(0, 200)) +
                                            "\"");
  }
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Status(Code::kDigestInvalid,
                    "digest must be lowercase hex: \"" + std::string(s.substr(0, 200)) + "\"");
    }
  }
  return Digest(*alg, std::string(hex));
}

Digest Digest::FromHex(DigestAlgorithm a, std::string hex) {
  return Digest(a, std::move(hex));
}

// The low-level SHA API (deprecated in OpenSSL 3, still built and as fast):
// EVP cannot export a hash's state, and SaveState must.
struct Digester::Impl {
  SHA256_CTX sha256;
  SHA512_CTX sha512;
};

Digester::Digester(DigestAlgorithm a) : algorithm_(a), impl_(std::make_unique<Impl>()) {
  if (a == DigestAlgorithm::kSha512) {
    SHA512_Init(&impl_->sha512);
  } else {
    SHA256_Init(&impl_->sha256);
  }
}

Digester::~Digester() = default;

void Digester::Update(const void* data, size_t n) {
  if (algorithm_ == DigestAlgorithm::kSha512) {
    SHA512_Update(&impl_->sha512, data, n);
  } else {
    SHA256_Update(&impl_->sha256, data, n);
  }
  bytes_ += n;
}

Digest Digester::Current() const {
  unsigned char md[SHA512_DIGEST_LENGTH];
  size_t len;
  if (algorithm_ == DigestAlgorithm::kSha512) {
    SHA512_CTX copy = impl_->sha512;
    SHA512_Final(md, &copy);
    len = SHA512_DIGEST_LENGTH;
  } else {
    SHA256_CTX copy = impl_->sha256;
    SHA256_Final(md, &copy);
    len = SHA256_DIGEST_LENGTH;
  }
  static const char kHex[] = "0123456789abcdef";
  std::string hex(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 15];
  }
  return Digest::FromHex(algorithm_, std::move(hex));
}

namespace {

// Go's crypto/sha256 and crypto/sha512 MarshalBinary: magic, the chaining
// words big-endian, the partial block padded with zeros to a whole block,
// and the byte length big-endian.
constexpr std::string_view kGoMagic256 = "sha\x03";
constexpr std::string_view kGoMagic512 = "sha\x07";

template <typename T>
void PutBigEndian(std::string* out, T v) {
  for (int i = sizeof(T) - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

template <typename T>
T GetBigEndian(std::string_view s, size_t at) {
  T v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

}  // namespace

std::string Digester::SaveState() const {
  std::string out;
  if (algorithm_ == DigestAlgorithm::kSha512) {
    const SHA512_CTX& c = impl_->sha512;
    out.append(kGoMagic512);
    for (uint64_t h : c.h) PutBigEndian<uint64_t>(&out, h);
    out.append(reinterpret_cast<const char*>(c.u.p), c.num);
    out.append(SHA512_CBLOCK - c.num, '\0');
    PutBigEndian<uint64_t>(&out, (c.Nl >> 3) | (c.Nh << 61));
  } else {
    const SHA256_CTX& c = impl_->sha256;
    out.append(kGoMagic256);
    for (uint32_t h : c.h) PutBigEndian<uint32_t>(&out, h);
    out.append(reinterpret_cast<const char*>(c.data), c.num);
    out.append(SHA256_CBLOCK - c.num, '\0');
    PutBigEndian<uint64_t>(&out, ((static_cast<uint64_t>(c.Nh) << 32) | c.Nl) >> 3);
  }
  return out;
}

Result<std::unique_ptr<Digester>> Digester::Restore(DigestAlgorithm a, std::string_view state) {
  bool is512 = a == DigestAlgorithm::kSha512;
  std::string_view magic = is512 ? kGoMagic512 : kGoMagic256;
  size_t word = is512 ? 8 : 4, block = is512 ? SHA512_CBLOCK : SHA256_CBLOCK;
  size_t size = magic.size() + 8 * word + block + 8;
  if (state.size() != size || state.substr(0, magic.size()) != magic) {
    return Status(Code::kInvalidArgument,
                  "not a saved " + std::string(AlgorithmName(a)) + " hash state");
  }
  auto d = std::make_unique<Digester>(a);
  size_t at = magic.size();
  uint64_t length = GetBigEndian<uint64_t>(state, magic.size() + 8 * word + block);
  size_t partial = static_cast<size_t>(length % block);
  if (is512) {
    SHA512_CTX& c = d->impl_->sha512;
    for (auto& h : c.h) h = GetBigEndian<uint64_t>(state, at), at += 8;
    std::memcpy(c.u.p, state.data() + at, partial);
    c.num = static_cast<unsigned>(partial);
    c.Nl = length << 3;
    c.Nh = length >> 61;
  } else {
    SHA256_CTX& c = d->impl_->sha256;
    for (auto& h : c.h) h = GetBigEndian<uint32_t>(state, at), at += 4;
    std::memcpy(c.data, state.data() + at, partial);
    c.num = static_cast<unsigned>(partial);
    uint64_t bits = length << 3;
    c.Nl = static_cast<SHA_LONG>(bits & 0xffffffffu);
    c.Nh = static_cast<SHA_LONG>(bits >> 32);
  }
  d->bytes_ = length;
  return d;
}

Digest DigestOf(std::string_view content, DigestAlgorithm a) {
  Digester d(a);
  d.Update(content);
  return d.Current();
}

}  // namespace hoist
