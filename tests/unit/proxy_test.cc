#include "registry/proxy.h"

#include <catch2/catch.hpp>

#include "common/reference.h"
#include "registry/storage/driver.h"

namespace hoist::registry {
namespace {

struct Stores {
  std::unique_ptr<storage::StorageDriver> d = storage::NewMemoryDriver();
  BlobStore blobs{*d};
  ManifestStore manifests{*d, blobs};
  UploadStore uploads{*d, blobs};
  Result<std::unique_ptr<Proxy>> Make(const std::string& upstream) {
    ProxyOptions o;
    o.upstream = upstream;
    return Proxy::Create(o, *d, blobs, manifests, uploads);
  }
};

TEST_CASE("a mirror of Docker Hub asks for one-word names under library/", "[proxy]") {
  Stores s;
  // Docker Hub as users name it: the API host, the domain, docker login's key.
  for (const std::string& hub :
       {"https://" + std::string(kDockerHubApiHost), "https://" + std::string(kDockerHubDomain),
        std::string(kDockerHubConfigKey)}) {
    auto p = s.Make(hub);
    INFO(hub);
    REQUIRE(p.ok());
    CHECK((*p)->UpstreamRepository("busybox") == "library/busybox");
    CHECK((*p)->UpstreamRepository("library/busybox") == "library/busybox");
    CHECK((*p)->UpstreamRepository("bitnami/redis") == "bitnami/redis");
  }
  auto other = s.Make("http://127.0.0.1:5000");
  REQUIRE(other.ok());
  CHECK((*other)->UpstreamRepository("busybox") == "busybox");
}

TEST_CASE("a mirror's upstream must be an http(s) URL", "[proxy]") {
  Stores s;
  CHECK(s.Make("ftp://example.test").status().code() == Code::kInvalidArgument);
  CHECK(s.Make("127.0.0.1:5000").status().code() == Code::kInvalidArgument);
  CHECK(s.Make("https://").status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace hoist::registry
