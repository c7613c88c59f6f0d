#include "common/reference.h"

#include <catch2/catch.hpp>
#include <vector>

#include "builder/transfer/place.h"

using hoist::Code;
using hoist::Reference;

namespace {
Reference Must(std::string_view s) {
  auto r = Reference::Parse(s);
  INFO(s << ": " << r.status().message());
  REQUIRE(r.ok());
  return *r;
}
const std::string kHex(64, 'a');
}  // namespace

TEST_CASE("short names normalise to Docker Hub's library", "[reference]") {
  Reference r = Must("redis:alpine");
  CHECK(r.domain() == "docker.io");
  CHECK(r.path() == "library/redis");
  CHECK(r.tag() == "alpine");
  CHECK(r.String() == "docker.io/library/redis:alpine");
  CHECK(r.Familiar() == "redis:alpine");
  CHECK(Must("redis").tag() == "latest");
  CHECK(Must("index.docker.io/redis").String() == "docker.io/library/redis:latest");
  CHECK(Must("org/app:1").String() == "docker.io/org/app:1");
  CHECK(Must("org/app:1").Familiar() == "org/app:1");
}

TEST_CASE("domains: dots, ports, localhost, IPv6", "[reference]") {
  CHECK(Must("localhost:5000/foo/bar:1").domain() == "localhost:5000");
  CHECK(Must("localhost:5000/foo/bar:1").path() == "foo/bar");
  CHECK(Must("localhost/foo").domain() == "localhost");
  CHECK(Must("ghcr.io/o/r:v").domain() == "ghcr.io");
  CHECK(Must("127.0.0.1:5000/x").Familiar() == "127.0.0.1:5000/x:latest");
  CHECK(Must("[::1]:5000/x:1").domain() == "[::1]:5000");
  // No slash: "localhost:5000" is the image localhost with tag 5000.
  Reference r = Must("localhost:5000");
  CHECK(r.String() == "docker.io/library/localhost:5000");
}

TEST_CASE("digests, with and without a tag", "[reference]") {
  Reference r = Must("example.com/a/b@sha256:" + kHex);
  CHECK(r.tag().empty());
  REQUIRE(r.digest());
  CHECK(r.ManifestReference() == "sha256:" + kHex);
  Reference both = Must("example.com/a/b:t@sha256:" + kHex);
  CHECK(both.tag() == "t");
  CHECK(both.ManifestReference() == "sha256:" + kHex);
  CHECK(both.String() == "example.com/a/b:t@sha256:" + kHex);
  CHECK(Must("a").WithDigest(*r.digest()).String() == "docker.io/library/a:latest@sha256:" + kHex);
  CHECK(Reference::Parse("x/y", false)->tag().empty());
}

TEST_CASE("malformed references are refused with a reason", "[reference]") {
  for (std::string bad :
       std::vector<std::string>{"", "UPPER:1", "a:b:c", "a@sha256:xyz", "a:", ":tag", "a//b", "-a",
                                "a b", "host:99999999/x", "a@md5:" + kHex, "example.com/Foo"}) {
    auto r = Reference::Parse(bad);
    INFO(bad);
    CHECK_FALSE(r.ok());
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().message().find("invalid reference") != std::string::npos);
  }
  CHECK(Reference::Parse("Library/x").ok() == true);  // uppercase first part: a domain
  CHECK(Reference::Parse("UPPER").status().message().find("lowercase") != std::string::npos);
  CHECK_FALSE(Reference::Parse("a:" + std::string(129, 't')).ok());
  CHECK_FALSE(Reference::Parse("example.com/" + std::string(250, 'a')).ok());
}

TEST_CASE("registry hosts as users type them", "[reference]") {
  CHECK(*hoist::NormalizeRegistryHost("https://index.docker.io/v1/") == "docker.io");
  CHECK(*hoist::NormalizeRegistryHost("docker.io") == "docker.io");
  CHECK(*hoist::NormalizeRegistryHost("LOCALHOST:5000") == "localhost:5000");
  CHECK(*hoist::NormalizeRegistryHost("http://127.0.0.1:5000/v2/") == "127.0.0.1:5000");
  CHECK_FALSE(hoist::NormalizeRegistryHost("bad host").ok());
  CHECK_FALSE(hoist::NormalizeRegistryHost("").ok());
  CHECK(hoist::RegistryApiHost("docker.io") == "registry-1.docker.io");
  CHECK(hoist::RegistryApiHost("ghcr.io") == "ghcr.io");
}

TEST_CASE("loopback hosts", "[reference]") {
  for (const char* h : {"localhost", "localhost:5000", "127.0.0.1", "127.0.0.1:80", "127.1.2.3:1",
                        "[::1]:5000", "[::1]"}) {
    INFO(h);
    CHECK(hoist::IsLoopbackHost(h));
  }
  for (const char* h : {"128.0.0.1", "example.com", "127.0.0", "127.0.0.1.example.com", "10.0.0.1",
                        "localhost.example.com:1"}) {
    INFO(h);
    CHECK_FALSE(hoist::IsLoopbackHost(h));
  }
}

TEST_CASE("places: registry, oci, archives", "[place]") {
  using hoist::transfer::ParsePlace;
  using hoist::transfer::PlaceKind;
  auto p = ParsePlace("oci:/tmp/x:tag");
  REQUIRE(p.ok());
  CHECK(p->kind == PlaceKind::kLayout);
  CHECK(p->path == "/tmp/x");
  CHECK(p->tag == "tag");
  CHECK(ParsePlace("oci:rel/dir")->tag.empty());
  CHECK(ParsePlace("oci-archive:a.tar:v1")->kind == PlaceKind::kOciArchive);
  auto d = ParsePlace("docker-archive:a.tar:busybox:1");
  REQUIRE(d.ok());
  CHECK(d->path == "a.tar");
  CHECK(d->ref->String() == "docker.io/library/busybox:1");
  CHECK_FALSE(ParsePlace("docker-archive:a.tar")->ref.has_value());
  auto r = ParsePlace("docker://busybox");
  REQUIRE(r.ok());
  CHECK(r->kind == PlaceKind::kRegistry);
  CHECK(r->ref->String() == "docker.io/library/busybox:latest");
  CHECK(ParsePlace("localhost:5000/a:1")->ref->domain() == "localhost:5000");
  for (const char* bad : {"dir:/x", "oci:", "oci:/x:bad tag!", "docker:///x", "BAD:ref",
                          "docker-archive:a.tar:x@sha256:0"}) {
    INFO(bad);
    CHECK_FALSE(ParsePlace(bad).ok());
  }
}
