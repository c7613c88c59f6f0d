// Signing keys as cosign and skopeo keep them: ECDSA P-256 key pairs, the
// public half a PEM "PUBLIC KEY" (PKIX SubjectPublicKeyInfo), the private
// half the sigstore encrypted format:
//
//   -----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----   (or ... SIGSTORE ...)
//   base64 of {"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},
//              "salt":<32 bytes>},"cipher":{"name":"nacl/secretbox",
//              "nonce":<24 bytes>},"ciphertext":<secretbox(PKCS#8 DER)>}
//
// (secure-systems-lab go-securesystemslib `encrypted`, which cosign and
// containers/image use): the key is scrypt(passphrase, salt, N, r, p) of 32
// bytes; the box is XSalsa20-Poly1305 (libsodium's crypto_secretbox_easy,
// the same bytes as NaCl's secretbox.Seal). hoist writes N=32768 and the
// COSIGN label, which every cosign and containers/image release reads
// (newer ones also write N=65536 and the SIGSTORE label; both are read).
//
// Signatures are ASN.1 DER ECDSA over SHA-256 of the message, as cosign's
// and containers/image's verifiers expect. All crypto is OpenSSL's and
// libsodium's.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace hoist::sign {

// The PEM label hoist writes for encrypted private keys.
inline constexpr std::string_view kEncryptedCosignLabel = "ENCRYPTED COSIGN PRIVATE KEY";
inline constexpr std::string_view kEncryptedSigstoreLabel = "ENCRYPTED SIGSTORE PRIVATE KEY";

struct PkeyFree {
  void operator()(EVP_PKEY* k) const;
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// A public key that verifies signatures. Movable, not copyable.
class PublicKey {
 public:
  // From PEM text ("PUBLIC KEY"); kInvalidArgument unless ECDSA P-256.
  static Result<PublicKey> FromPem(std::string_view pem);
  // True when `der_signature` is this key's signature of `message`.
  bool Verify(std::string_view message, std::string_view der_signature) const;
  // The PEM text, as cosign writes a .pub file.
  std::string Pem() const;
  // "SHA256:" + hex of SHA-256 over the SubjectPublicKeyInfo DER; shown to
  // tell keys apart.
  std::string Fingerprint() const;

 private:
  friend class PrivateKey;
  explicit PublicKey(PkeyPtr k) : key_(std::move(k)) {}
  PkeyPtr key_;
};

// A private key that signs. Movable, not copyable.
class PrivateKey {
 public:
  // A fresh P-256 key from OpenSSL's random generator.
  static Result<PrivateKey> Generate();
  // From PEM text: the encrypted sigstore format (either label) opened with
  // `passphrase`, or a plain "PRIVATE KEY" / "EC PRIVATE KEY" (as
  // `openssl genpkey`/`ecparam` write them; the passphrase is unused).
  // kDenied for a wrong passphrase; kInvalidArgument for anything
  // that is not a P-256 key in one of those forms.
  static Result<PrivateKey> FromPem(std::string_view pem, std::string_view passphrase);
  // True when the PEM text is an encrypted key (it needs a passphrase).
  static bool IsEncrypted(std::string_view pem);

  // The DER ECDSA signature of SHA-256(message).
  Result<std::string> Sign(std::string_view message) const;
  PublicKey Public() const;
  // The encrypted PEM (COSIGN label, N=32768, fresh salt and nonce).
  Result<std::string> EncryptedPem(std::string_view passphrase) const;

 private:
  explicit PrivateKey(PkeyPtr k) : key_(std::move(k)) {}
  PkeyPtr key_;
};

// The sealing of the encrypted format, exposed for tests: `plaintext`
// sealed with a key from `passphrase`, as the JSON document above (not yet
// PEM), and its inverse. Open refuses KDF or cipher names other than
// scrypt and nacl/secretbox and scrypt parameters other than those
// go-securesystemslib accepts (N 32768, 65536 or 131072; r 8; p 1).
Result<std::string> SealBox(std::string_view plaintext, std::string_view passphrase,
                            int scrypt_n = 32768);
Result<std::string> OpenBox(std::string_view sealed_json, std::string_view passphrase);

}  // namespace hoist::sign
