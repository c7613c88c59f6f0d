#include "registry/storage/paths.h"

#include <catch2/catch.hpp>
#include <string>

namespace hoist::storage {
namespace {

const std::string kHex = "abcd" + std::string(60, '0');
const std::string kHex2 = "ef01" + std::string(60, '1');
const std::string kRepos = "/docker/registry/v2/repositories";

Digest D(const std::string& hex) { return Digest::FromHex(DigestAlgorithm::kSha256, hex); }

TEST_CASE("Blob paths follow the registry:2 layout", "[paths]") {
  CHECK(paths::BlobsRoot() == "/docker/registry/v2/blobs");
  CHECK(paths::BlobDir(D(kHex)) == "/docker/registry/v2/blobs/sha256/ab/" + kHex);
  CHECK(paths::BlobData(D(kHex)) == "/docker/registry/v2/blobs/sha256/ab/" + kHex + "/data");
  std::string h512 = "12" + std::string(126, 'f');
  CHECK(paths::BlobData(Digest::FromHex(DigestAlgorithm::kSha512, h512)) ==
        "/docker/registry/v2/blobs/sha512/12/" + h512 + "/data");
}

TEST_CASE("Repository link paths follow the registry:2 layout", "[paths]") {
  CHECK(paths::RepositoriesRoot() == kRepos);
  CHECK(paths::Repository("library/ubuntu") == kRepos + "/library/ubuntu");
  CHECK(paths::LayerLink("library/ubuntu", D(kHex)) ==
        kRepos + "/library/ubuntu/_layers/sha256/" + kHex + "/link");
  CHECK(paths::ManifestRevisionsDir("a", DigestAlgorithm::kSha256) ==
        kRepos + "/a/_manifests/revisions/sha256");
  CHECK(paths::ManifestRevisionLink("a/b", D(kHex)) ==
        kRepos + "/a/b/_manifests/revisions/sha256/" + kHex + "/link");
  CHECK(paths::TagsDir("a") == kRepos + "/a/_manifests/tags");
  CHECK(paths::TagDir("a", "v1") == kRepos + "/a/_manifests/tags/v1");
  CHECK(paths::TagCurrentLink("a", "latest") == kRepos + "/a/_manifests/tags/latest/current/link");
  CHECK(paths::TagIndexLink("a", "latest", D(kHex)) ==
        kRepos + "/a/_manifests/tags/latest/index/sha256/" + kHex + "/link");
}

TEST_CASE("Upload paths follow the registry:2 layout", "[paths]") {
  const std::string id = "0f3c2a1e-1111-4222-8333-444455556666";
  CHECK(paths::UploadsDir("a") == kRepos + "/a/_uploads");
  CHECK(paths::UploadDir("a", id) == kRepos + "/a/_uploads/" + id);
  CHECK(paths::UploadData("a", id) == kRepos + "/a/_uploads/" + id + "/data");
  CHECK(paths::UploadStartedAt("a", id) == kRepos + "/a/_uploads/" + id + "/startedat");
}

TEST_CASE("Referrer links are indexed under the subject digest", "[paths]") {
  CHECK(paths::ReferrersDir("a", D(kHex)) == kRepos + "/a/_referrers/sha256/" + kHex);
  CHECK(paths::ReferrerLink("a", D(kHex), D(kHex2)) ==
        kRepos + "/a/_referrers/sha256/" + kHex + "/sha256/" + kHex2 + "/link");
}

TEST_CASE("ParseLink reads a digest and trims a trailing newline", "[paths]") {
  Result<Digest> plain = paths::ParseLink("sha256:" + kHex);
  REQUIRE(plain.ok());
  CHECK(plain->hex() == kHex);
  Result<Digest> nl = paths::ParseLink("sha256:" + kHex + "\n");
  REQUIRE(nl.ok());
  CHECK(*nl == D(kHex));
  CHECK(paths::ParseLink("garbage\n").status().code() == Code::kDigestInvalid);
  CHECK_FALSE(paths::ParseLink("").ok());
}

}  // namespace
}  // namespace hoist::storage
