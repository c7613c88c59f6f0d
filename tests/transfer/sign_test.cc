// builder/sign: keys, the encrypted key format, payloads and the checks of
// one signature (no registry; tests/transfer/sign.sh has those).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "builder/sign/keys.h"
#include "builder/sign/signature.h"
#include "common/base64.h"

namespace hoist::sign {
namespace {

const Digest kImage = DigestOf("an image manifest");
const Digest kOther = DigestOf("another manifest");

Claim ClaimFor(const Digest& d) {
  Claim c;
  c.docker_reference = "127.0.0.1:5000/app:1";
  c.digest = d;
  c.creator = "hoist test";
  c.timestamp = 1700000000;
  return c;
}

StoredSignature SignedBy(const PrivateKey& k, const std::string& payload) {
  StoredSignature s;
  s.where = "test";
  s.media_type = std::string(kSimpleSigningMediaType);
  s.payload = payload;
  s.signature = Base64Encode(*k.Sign(payload));
  return s;
}

TEST_CASE("a payload has cosign's bytes and parses back", "[sign]") {
  Claim c = ClaimFor(kImage);
  const std::string p = MakePayload(c);
  CHECK(p ==
        "{\"critical\":{\"identity\":{\"docker-reference\":\"127.0.0.1:5000/app:1\"},"
        "\"image\":{\"docker-manifest-digest\":\"" +
            kImage.str() +
            "\"},\"type\":\"cosign container image signature\"},"
            "\"optional\":{\"creator\":\"hoist test\",\"timestamp\":1700000000}}");
  Result<Claim> back = ParsePayload(p);
  REQUIRE(back.ok());
  CHECK(back->docker_reference == c.docker_reference);
  CHECK(back->digest == kImage);
  CHECK(back->creator == "hoist test");
  CHECK(back->timestamp == 1700000000);
  c.creator.clear();
  c.timestamp = 0;
  CHECK(MakePayload(c).find("\"optional\":null}") != std::string::npos);
  CHECK(ParsePayload(MakePayload(c)).ok());
}

TEST_CASE("payloads that containers/image refuses are refused", "[sign]") {
  const std::string good = MakePayload(ClaimFor(kImage));
  auto with = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return ParsePayload(s);
  };
  CHECK_FALSE(ParsePayload("not json").ok());
  CHECK_FALSE(with("cosign container image signature", "atomic container signature").ok());
  CHECK_FALSE(with(",\"optional\":{", ",\"extra\":1,\"optional\":{").ok());
  CHECK_FALSE(with("\"type\":", "\"more\":1,\"type\":").ok());
  CHECK_FALSE(with(kImage.str(), "sha256:1234").ok());
  CHECK_FALSE(with("\"timestamp\":1700000000", "\"timestamp\":\"today\"").ok());
  CHECK_FALSE(with("{\"docker-reference\":\"127.0.0.1:5000/app:1\"}", "{}").ok());
}

TEST_CASE("the .sig tag of a digest", "[sign]") {
  CHECK(SignatureTag(kImage) == "sha256-" + kImage.hex() + ".sig");
}

TEST_CASE("a P-256 key signs, its public half verifies, others do not", "[sign]") {
  Result<PrivateKey> k = PrivateKey::Generate(), other = PrivateKey::Generate();
  REQUIRE(k.ok());
  REQUIRE(other.ok());
  Result<std::string> sig = k->Sign("message");
  REQUIRE(sig.ok());
  CHECK(k->Public().Verify("message", *sig));
  CHECK_FALSE(k->Public().Verify("message!", *sig));
  CHECK_FALSE(other->Public().Verify("message", *sig));
  Result<PublicKey> pub = PublicKey::FromPem(k->Public().Pem());
  REQUIRE(pub.ok());
  CHECK(pub->Verify("message", *sig));
  CHECK(pub->Fingerprint() == k->Public().Fingerprint());
  CHECK(pub->Fingerprint() != other->Public().Fingerprint());
  CHECK_FALSE(
      PublicKey::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").ok());
}

TEST_CASE("the encrypted key format opens with its passphrase only", "[sign]") {
  Result<PrivateKey> k = PrivateKey::Generate();
  REQUIRE(k.ok());
  Result<std::string> pem = k->EncryptedPem("s3cret");
  REQUIRE(pem.ok());
  CHECK(pem->rfind("-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----\n", 0) == 0);
  CHECK(PrivateKey::IsEncrypted(*pem));
  Result<PrivateKey> back = PrivateKey::FromPem(*pem, "s3cret");
  REQUIRE(back.ok());
  CHECK(back->Public().Fingerprint() == k->Public().Fingerprint());
  Result<PrivateKey> wrong = PrivateKey::FromPem(*pem, "guess");
  REQUIRE_FALSE(wrong.ok());
  CHECK(wrong.status().code() == Code::kDenied);
  // The SIGSTORE label (current cosign) holds the same document.
  std::string sigstore = *pem;
  for (size_t at; (at = sigstore.find("COSIGN")) != std::string::npos;) {
    sigstore.replace(at, 6, "SIGSTORE");
  }
  CHECK(PrivateKey::FromPem(sigstore, "s3cret").ok());
}

TEST_CASE("the sealed document: go-securesystemslib's fields and limits", "[sign]") {
  Result<std::string> sealed = SealBox("plain bytes", "pw");
  REQUIRE(sealed.ok());
  nlohmann::json j = nlohmann::json::parse(*sealed);
  CHECK(j["kdf"]["name"] == "scrypt");
  CHECK(j["kdf"]["params"] == nlohmann::json({{"N", 32768}, {"r", 8}, {"p", 1}}));
  CHECK(Base64Decode(j["kdf"]["salt"].get<std::string>())->size() == 32);
  CHECK(j["cipher"]["name"] == "nacl/secretbox");
  CHECK(Base64Decode(j["cipher"]["nonce"].get<std::string>())->size() == 24);
  CHECK(*OpenBox(*sealed, "pw") == "plain bytes");
  // Fresh salt and nonce each time.
  CHECK(*SealBox("plain bytes", "pw") != *sealed);
  Result<std::string> n65536 = SealBox("x", "", 65536);
  REQUIRE(n65536.ok());
  CHECK(*OpenBox(*n65536, "") == "x");
  nlohmann::json bad = j;
  bad["kdf"]["params"]["N"] = 1024;
  CHECK(OpenBox(bad.dump(), "pw").status().code() == Code::kInvalidArgument);
  bad = j;
  bad["cipher"]["name"] = "aes-gcm";
  CHECK(OpenBox(bad.dump(), "pw").status().code() == Code::kInvalidArgument);
  bad = j;
  bad["ciphertext"] = Base64Encode("short");
  CHECK(OpenBox(bad.dump(), "pw").status().code() == Code::kInvalidArgument);
}

TEST_CASE("Check: one verdict per way a signature can be wrong", "[sign]") {
  Result<PrivateKey> k = PrivateKey::Generate(), other = PrivateKey::Generate();
  REQUIRE(k.ok());
  REQUIRE(other.ok());
  std::vector<NamedKey> keys;
  keys.push_back(NamedKey{"other.pub", other->Public()});
  keys.push_back(NamedKey{"k.pub", k->Public()});
  const std::string payload = MakePayload(ClaimFor(kImage));

  Verdict ok = Check(SignedBy(*k, payload), kImage, keys);
  CHECK(ok.valid);
  CHECK(ok.key == "k.pub");
  CHECK(ok.claim.docker_reference == "127.0.0.1:5000/app:1");
  CHECK(Check(SignedBy(*k, payload), kImage, keys, "127.0.0.1:5000/app:1").valid);

  Verdict other_image = Check(SignedBy(*k, payload), kOther, keys);
  CHECK_FALSE(other_image.valid);
  CHECK(other_image.reason == "it signs " + kImage.str() + ", not this image");

  Verdict identity = Check(SignedBy(*k, payload), kImage, keys, "127.0.0.1:5000/app:2");
  CHECK_FALSE(identity.valid);
  CHECK(identity.reason.find("identity") != std::string::npos);

  std::vector<NamedKey> only_other;
  only_other.push_back(NamedKey{"other.pub", other->Public()});
  Verdict wrong_key = Check(SignedBy(*k, payload), kImage, only_other);
  CHECK_FALSE(wrong_key.valid);
  CHECK(wrong_key.reason == "the key does not verify it");

  StoredSignature changed = SignedBy(*k, payload);
  changed.payload[changed.payload.size() - 2] = '1';
  CHECK_FALSE(Check(changed, kImage, keys).valid);

  StoredSignature attachment = SignedBy(*k, payload);
  attachment.media_type = "text/plain";
  CHECK(Check(attachment, kImage, keys).reason == "not a signature (media type text/plain)");

  StoredSignature unsigned_layer = SignedBy(*k, payload);
  unsigned_layer.signature.clear();
  CHECK(Check(unsigned_layer, kImage, keys).reason.find("no dev.cosignproject") == 0);

  StoredSignature garbage = SignedBy(*k, payload);
  garbage.signature = "***";
  CHECK_FALSE(Check(garbage, kImage, keys).valid);

  // A valid signature of a payload that is not cosign's: refused after
  // the cryptography, on the payload's form.
  Verdict form = Check(SignedBy(*k, "{\"critical\":{}}"), kImage, keys);
  CHECK_FALSE(form.valid);
  CHECK(form.reason.rfind("payload:", 0) == 0);
}

}  // namespace
}  // namespace hoist::sign
