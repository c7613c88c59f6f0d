// The read cache in front of a remote driver (registry/storage/cache.h):
// what it keeps, for how long, and what it never keeps. "Another process"
// is the inner driver changed directly, beneath the cache.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "registry/storage/cache.h"
#include "registry/storage/driver.h"

namespace hoist::storage {
namespace {

struct Cached {
  explicit Cached(int64_t ttl_ms) {
    std::unique_ptr<StorageDriver> m = NewMemoryDriver();
    inner = m.get();
    driver = NewCachingDriver(std::move(m), CacheOptions{.ttl_ms = ttl_ms});
  }
  StorageDriver* inner;
  std::unique_ptr<StorageDriver> driver;
};

TEST_CASE("cache: another process's change shows after the TTL, not before", "[storage][cache]") {
  Cached c(300);
  REQUIRE(c.inner->PutContent("/r/_manifests/tags/v1/current/link", "sha256:a").ok());
  CHECK(c.driver->GetContent("/r/_manifests/tags/v1/current/link").value() == "sha256:a");
  REQUIRE(c.driver->Stat("/r/_manifests/tags/v1/current/link").ok());
  REQUIRE(c.inner->PutContent("/r/_manifests/tags/v1/current/link", "sha256:b").ok());
  REQUIRE(c.inner->Delete("/r/_manifests/tags/v1/current/link").ok());
  // Within the TTL: the answers kept.
  CHECK(c.driver->GetContent("/r/_manifests/tags/v1/current/link").value() == "sha256:a");
  CHECK(c.driver->Stat("/r/_manifests/tags/v1/current/link").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  CHECK(c.driver->GetContent("/r/_manifests/tags/v1/current/link").status().code() ==
        Code::kNotFound);
  CHECK(c.driver->Stat("/r/_manifests/tags/v1/current/link").status().code() == Code::kNotFound);
}

TEST_CASE("cache: an absent path is asked again every time", "[storage][cache]") {
  Cached c(60000);
  CHECK(c.driver->GetContent("/blobs/x/data").status().code() == Code::kNotFound);
  CHECK(c.driver->Stat("/blobs/x/data").status().code() == Code::kNotFound);
  REQUIRE(c.inner->PutContent("/blobs/x/data", "pushed elsewhere").ok());
  CHECK(c.driver->GetContent("/blobs/x/data").value() == "pushed elsewhere");
  CHECK(c.driver->Stat("/blobs/x/data").value().size == 16);
}

TEST_CASE("cache: upload sessions are never kept", "[storage][cache]") {
  Cached c(60000);
  const std::string data = "/r/_uploads/u1/data";
  REQUIRE(c.inner->PutContent(data, "12345").ok());
  CHECK(c.driver->Stat(data).value().size == 5);
  REQUIRE(c.inner->PutContent(data, "1234567890").ok());  // a PATCH on another process
  CHECK(c.driver->Stat(data).value().size == 10);
  REQUIRE(c.inner->PutContent("/r/_uploads/u1/startedat", "t1").ok());
  CHECK(c.driver->GetContent("/r/_uploads/u1/startedat").value() == "t1");
  REQUIRE(c.inner->PutContent("/r/_uploads/u1/startedat", "t2").ok());
  CHECK(c.driver->GetContent("/r/_uploads/u1/startedat").value() == "t2");
}

TEST_CASE("cache: writes, moves and deletes through it drop what they touch", "[storage][cache]") {
  Cached c(60000);
  REQUIRE(c.driver->PutContent("/repo/_layers/a/link", "sha256:a").ok());
  REQUIRE(c.driver->PutContent("/repo/_layers/b/link", "sha256:b").ok());
  CHECK(c.driver->GetContent("/repo/_layers/a/link").value() == "sha256:a");
  CHECK(c.driver->Stat("/repo/_layers/b/link").ok());
  REQUIRE(c.driver->Delete("/repo/_layers").ok());  // a tree: both entries go
  CHECK(c.driver->GetContent("/repo/_layers/a/link").status().code() == Code::kNotFound);
  CHECK(c.driver->Stat("/repo/_layers/b/link").status().code() == Code::kNotFound);

  REQUIRE(c.driver->PutContent("/blobs/d/data", "old").ok());
  CHECK(c.driver->GetContent("/blobs/d/data").value() == "old");
  REQUIRE(c.driver->PutContent("/up/data", "new").ok());
  REQUIRE(c.driver->Move("/up/data", "/blobs/d/data").ok());
  CHECK(c.driver->GetContent("/blobs/d/data").value() == "new");

  Result<std::unique_ptr<FileWriter>> w = c.driver->Writer("/blobs/d/data", false);
  REQUIRE(w.ok());
  REQUIRE((*w)->Write("newer", 5).ok());
  REQUIRE((*w)->Commit().ok());
  CHECK(c.driver->GetContent("/blobs/d/data").value() == "newer");
  CHECK(c.driver->Stat("/blobs/d/data").value().size == 5);
}

TEST_CASE("cache: a TTL of 0 is no cache at all", "[storage][cache]") {
  Cached c(0);
  REQUIRE(c.inner->PutContent("/t/link", "a").ok());
  CHECK(c.driver->GetContent("/t/link").value() == "a");
  REQUIRE(c.inner->PutContent("/t/link", "b").ok());
  CHECK(c.driver->GetContent("/t/link").value() == "b");
}

}  // namespace
}  // namespace hoist::storage
