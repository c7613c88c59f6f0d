#include "builder/sign/keys.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "common/base64.h"
#include "common/digest.h"

namespace hoist::sign {
namespace {

using ordered_json = nlohmann::ordered_json;

// go-securesystemslib `encrypted`: a 32-byte salt, scrypt r=8 p=1 with one
// of three N, a 32-byte key; secretbox's 24-byte nonce.
constexpr size_t kSaltBytes = 32;
constexpr int kScryptR = 8, kScryptP = 1;
// OpenSSL caps scrypt's memory at 32 MiB by default, a little less than
// N=32768, r=8 needs (128*r*(N+2) bytes); N=131072 needs 128 MiB.
constexpr uint64_t kScryptMaxMem = 256ull << 20;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

BioPtr MemBio(std::string_view s) {
  return BioPtr(BIO_new_mem_buf(s.data(), static_cast<int>(s.size())));
}

std::string BioText(BIO* b) {
  char* p = nullptr;
  long n = BIO_get_mem_data(b, &p);
  return std::string(p, n > 0 ? static_cast<size_t>(n) : 0);
}

// kInvalidArgument unless `k` is an ECDSA key on P-256 (what cosign's
// key-pair signatures use, and the only curve whose hash is SHA-256).
Status CheckP256(EVP_PKEY* k, std::string_view what) {
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_is_a(k, "EC") != 1 || EVP_PKEY_get_group_name(k, group, sizeof group, &len) != 1 ||
      std::strcmp(group, "prime256v1") != 0) {
    return Status(Code::kInvalidArgument, std::string(what) + " is not an ECDSA P-256 key");
  }
  return Status::Ok();
}

// Refuses to prompt: a PEM that OpenSSL finds encrypted without a
// passphrase is an error, never a read from the terminal.
int NoPassword(char*, int, int, void*) {
  return -1;
}

Result<std::string> Scrypt(std::string_view passphrase, std::string_view salt, uint64_t n) {
  std::string key(crypto_secretbox_KEYBYTES, '\0');
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(),
                     reinterpret_cast<const unsigned char*>(salt.data()), salt.size(), n, kScryptR,
                     kScryptP, kScryptMaxMem, reinterpret_cast<unsigned char*>(key.data()),
                     key.size()) != 1) {
    return Status(Code::kInternal, "scrypt failed");
  }
  return key;
}

Status SodiumReady() {
  if (sodium_init() < 0) return Status(Code::kInternal, "libsodium failed to initialise");
  return Status::Ok();
}

// A base64 field of the sealed document, or an error naming it.
Result<std::string> Field(const nlohmann::json& j, const char* a, const char* b = nullptr) {
  const nlohmann::json* v = j.is_object() && j.contains(a) ? &j[a] : nullptr;
  if (v && b) v = v->is_object() && v->contains(b) ? &(*v)[b] : nullptr;
  if (!v || !v->is_string()) {
    return Status(Code::kInvalidArgument, std::string("encrypted key: no ") + a +
                                              (b ? std::string(".") + b : "") + " string");
  }
  return v->get<std::string>();
}

}  // namespace

void PkeyFree::operator()(EVP_PKEY* k) const {
  EVP_PKEY_free(k);
}

Result<std::string> SealBox(std::string_view plaintext, std::string_view passphrase, int scrypt_n) {
  if (Status st = SodiumReady(); !st.ok()) return st;
  std::string salt(kSaltBytes, '\0'), nonce(crypto_secretbox_NONCEBYTES, '\0');
  randombytes_buf(salt.data(), salt.size());
  randombytes_buf(nonce.data(), nonce.size());
  Result<std::string> key = Scrypt(passphrase, salt, static_cast<uint64_t>(scrypt_n));
  if (!key.ok()) return key.status();
  std::string box(plaintext.size() + crypto_secretbox_MACBYTES, '\0');
  crypto_secretbox_easy(reinterpret_cast<unsigned char*>(box.data()),
                        reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(),
                        reinterpret_cast<const unsigned char*>(nonce.data()),
                        reinterpret_cast<const unsigned char*>(key->data()));
  sodium_memzero(key->data(), key->size());
  // The field order of go-securesystemslib's structs.
  ordered_json doc = {{"kdf",
                       {{"name", "scrypt"},
                        {"params", {{"N", scrypt_n}, {"r", kScryptR}, {"p", kScryptP}}},
                        {"salt", Base64Encode(salt)}}},
                      {"cipher", {{"name", "nacl/secretbox"}, {"nonce", Base64Encode(nonce)}}},
                      {"ciphertext", Base64Encode(box)}};
  return doc.dump();
}

Result<std::string> OpenBox(std::string_view sealed_json, std::string_view passphrase) {
  if (Status st = SodiumReady(); !st.ok()) return st;
  nlohmann::json j = nlohmann::json::parse(sealed_json, nullptr, false);
  if (!j.is_object()) return Status(Code::kInvalidArgument, "encrypted key: not a JSON object");
  Result<std::string> kdf = Field(j, "kdf", "name"), cipher = Field(j, "cipher", "name");
  if (!kdf.ok()) return kdf.status();
  if (!cipher.ok()) return cipher.status();
  if (*kdf != "scrypt" || *cipher != "nacl/secretbox") {
    return Status(Code::kInvalidArgument, "encrypted key: unsupported " + *kdf + " / " + *cipher +
                                              " (want scrypt / nacl/secretbox)");
  }
  const nlohmann::json& params = j["kdf"].value("params", nlohmann::json::object());
  auto param = [&](const char* k) {
    return params.is_object() && params.contains(k) && params[k].is_number_integer()
               ? params[k].get<int64_t>()
               : -1;
  };
  const int64_t n = param("N");
  if ((n != 32768 && n != 65536 && n != 131072) || param("r") != kScryptR ||
      param("p") != kScryptP) {
    return Status(Code::kInvalidArgument, "encrypted key: unsupported scrypt parameters");
  }
  Result<std::string> salt_b64 = Field(j, "kdf", "salt"), nonce_b64 = Field(j, "cipher", "nonce"),
                      box_b64 = Field(j, "ciphertext");
  for (const Result<std::string>* r : {&salt_b64, &nonce_b64, &box_b64}) {
    if (!r->ok()) return r->status();
  }
  Result<std::string> salt = Base64Decode(*salt_b64), nonce = Base64Decode(*nonce_b64),
                      box = Base64Decode(*box_b64);
  if (!salt.ok() || !nonce.ok() || !box.ok()) {
    return Status(Code::kInvalidArgument, "encrypted key: bad base64");
  }
  if (nonce->size() != crypto_secretbox_NONCEBYTES || box->size() < crypto_secretbox_MACBYTES) {
    return Status(Code::kInvalidArgument, "encrypted key: bad nonce or ciphertext length");
  }
  Result<std::string> key = Scrypt(passphrase, *salt, static_cast<uint64_t>(n));
  if (!key.ok()) return key.status();
  std::string plain(box->size() - crypto_secretbox_MACBYTES, '\0');
  const int rc =
      crypto_secretbox_open_easy(reinterpret_cast<unsigned char*>(plain.data()),
                                 reinterpret_cast<const unsigned char*>(box->data()), box->size(),
                                 reinterpret_cast<const unsigned char*>(nonce->data()),
                                 reinterpret_cast<const unsigned char*>(key->data()));
  sodium_memzero(key->data(), key->size());
  if (rc != 0) {
    return Status(Code::kDenied, "the passphrase does not open this key (or the key is damaged)");
  }
  return plain;
}

// ---- PublicKey ---------------------------------------------------------

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  BioPtr bio = MemBio(pem);
  PkeyPtr k(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassword, nullptr));
  if (!k) return Status(Code::kInvalidArgument, "not a PEM public key (\"PUBLIC KEY\")");
  if (Status st = CheckP256(k.get(), "the public key"); !st.ok()) return st;
  return PublicKey(std::move(k));
}

bool PublicKey::Verify(std::string_view message, std::string_view der_signature) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) == 1 &&
         EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der_signature.data()),
                          der_signature.size(),
                          reinterpret_cast<const unsigned char*>(message.data()),
                          message.size()) == 1;
}

std::string PublicKey::Pem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key_.get());
  return BioText(bio.get());
}

std::string PublicKey::Fingerprint() const {
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key_.get(), &der);
  std::string bytes(reinterpret_cast<char*>(der), n > 0 ? static_cast<size_t>(n) : 0);
  OPENSSL_free(der);
  return "SHA256:" + DigestOf(bytes).hex();
}

// ---- PrivateKey --------------------------------------------------------

Result<PrivateKey> PrivateKey::Generate() {
  PkeyPtr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!k) return Status(Code::kInternal, "OpenSSL could not generate a P-256 key");
  return PrivateKey(std::move(k));
}

bool PrivateKey::IsEncrypted(std::string_view pem) {
  for (std::string_view label : {kEncryptedCosignLabel, kEncryptedSigstoreLabel}) {
    if (pem.find("-----BEGIN " + std::string(label) + "-----") != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem, std::string_view passphrase) {
  PkeyPtr k;
  if (IsEncrypted(pem)) {
    BioPtr bio = MemBio(pem);
    char *name = nullptr, *header = nullptr;
    unsigned char* data = nullptr;
    long len = 0;
    if (PEM_read_bio(bio.get(), &name, &header, &data, &len) != 1) {
      return Status(Code::kInvalidArgument, "the encrypted key's PEM block is damaged");
    }
    std::string sealed(reinterpret_cast<char*>(data), static_cast<size_t>(len));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    Result<std::string> der = OpenBox(sealed, passphrase);
    if (!der.ok()) return der.status();
    // The sealed plaintext is PKCS#8 (x509.ParsePKCS8PrivateKey upstream).
    const unsigned char* p = reinterpret_cast<const unsigned char*>(der->data());
    PKCS8_PRIV_KEY_INFO* p8 = d2i_PKCS8_PRIV_KEY_INFO(nullptr, &p, static_cast<long>(der->size()));
    OPENSSL_cleanse(der->data(), der->size());
    if (p8 == nullptr) {
      return Status(Code::kInvalidArgument, "the encrypted key does not hold a PKCS#8 key");
    }
    k.reset(EVP_PKCS82PKEY(p8));
    PKCS8_PRIV_KEY_INFO_free(p8);
  } else {
    BioPtr bio = MemBio(pem);
    k.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassword, nullptr));
  }
  if (!k) {
    return Status(Code::kInvalidArgument,
                  "not a private key (want \"ENCRYPTED COSIGN PRIVATE KEY\", \"ENCRYPTED SIGSTORE "
                  "PRIVATE KEY\", \"PRIVATE KEY\" or \"EC PRIVATE KEY\" PEM)");
  }
  if (Status st = CheckP256(k.get(), "the private key"); !st.ok()) return st;
  return PrivateKey(std::move(k));
}

Result<std::string> PrivateKey::Sign(std::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return Status(Code::kInternal, "OpenSSL could not sign");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) != 1) {
    return Status(Code::kInternal, "OpenSSL could not sign");
  }
  sig.resize(len);
  return sig;
}

PublicKey PrivateKey::Public() const {
  // The public half through its DER form: a key object of its own.
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(key_.get(), &der);
  const unsigned char* p = der;
  PkeyPtr pub(d2i_PUBKEY(nullptr, &p, n));
  OPENSSL_free(der);
  return PublicKey(std::move(pub));
}

Result<std::string> PrivateKey::EncryptedPem(std::string_view passphrase) const {
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(key_.get());
  if (p8 == nullptr) return Status(Code::kInternal, "OpenSSL could not encode the key");
  unsigned char* der = nullptr;
  const int n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  PKCS8_PRIV_KEY_INFO_free(p8);
  if (n <= 0) return Status(Code::kInternal, "OpenSSL could not encode the key");
  Result<std::string> sealed =
      SealBox(std::string_view(reinterpret_cast<char*>(der), static_cast<size_t>(n)), passphrase);
  OPENSSL_clear_free(der, static_cast<size_t>(n));
  if (!sealed.ok()) return sealed.status();
  BioPtr bio(BIO_new(BIO_s_mem()));
  const std::string label(kEncryptedCosignLabel);
  PEM_write_bio(bio.get(), label.c_str(), "",
                reinterpret_cast<const unsigned char*>(sealed->data()),
                static_cast<long>(sealed->size()));
  return BioText(bio.get());
}

}  // namespace hoist::sign
