// Bad input gets the spec's error JSON ({"errors":[{"code":...}]}) with the
// right code and HTTP status, and leaves nothing half-stored behind
// (distribution-spec v1.1, "Error Codes" and each endpoint's failures).
#include <catch2/catch.hpp>

#include "support/fixture.h"
#include "support/oci.h"

namespace hoist::itest {
namespace {

using nlohmann::json;

using Codes = std::vector<std::string>;

RegistryOptions WithConfig(std::string yaml) {
  RegistryOptions o;
  o.config_yaml = std::move(yaml);
  return o;
}

// An OCI manifest of exactly `size` bytes (padded with an annotation).
std::string ManifestOfSize(const PushedImage& img, size_t size) {
  json pad = {{"annotations", {{"pad", ""}}}};
  std::string base = ImageManifest(img.config, {img.layer}, pad);
  REQUIRE(base.size() <= size);
  pad["annotations"]["pad"] = std::string(size - base.size(), 'p');
  std::string m = ImageManifest(img.config, {img.layer}, pad);
  REQUIRE(m.size() == size);
  return m;
}

TEST_CASE_METHOD(RegistryFixture, "an invalid repository name is 400 NAME_INVALID",
                 "[integration][errors]") {
  for (const char* path : {"/v2/Upper/tags/list", "/v2/a..b/manifests/latest",
                           "/v2/-lead/blobs/sha256:0000", "/v2/a//b/tags/list"}) {
    INFO("GET " << path);
    httplib::Response r = Reply(cli.Get(path));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"NAME_INVALID"});
  }
  httplib::Response post = Reply(cli.Post("/v2/UPPER/blobs/uploads/"));
  CHECK(post.status == 400);
  CHECK(ErrorCodes(post.body) == Codes{"NAME_INVALID"});
}

TEST_CASE_METHOD(RegistryFixture, "a malformed digest in a blob GET is 400 DIGEST_INVALID",
                 "[integration][errors]") {
  for (const char* d : {"sha256:1234", "sha256:ZZZZ", "nodigest", "sha256:"}) {
    INFO("digest " << d);
    httplib::Response r = Reply(cli.Get(std::string("/v2/app/blobs/") + d));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"DIGEST_INVALID"});
  }
}

TEST_CASE_METHOD(RegistryFixture, "a malformed digest in PUT ?digest= is 400 DIGEST_INVALID",
                 "[integration][errors]") {
  std::string loc = StartUpload(cli, "app");
  for (const char* d : {"sha256:abc", "sha256%3AXYZ", "banana"}) {
    INFO("digest " << d);
    httplib::Response r = Reply(
        cli.Put(WithQuery(loc, std::string("digest=") + d), "data", "application/octet-stream"));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"DIGEST_INVALID"});
  }
  httplib::Response missing = Reply(cli.Put(loc, "data", "application/octet-stream"));
  CHECK(missing.status == 400);
  CHECK(ErrorCodes(missing.body) == Codes{"DIGEST_INVALID"});
}

// distribution-spec v1.1, "Pushing blobs": "if the client provided digest is
// invalid or uses an unsupported algorithm, the registry SHOULD respond with
// a response code 400 Bad Request".
TEST_CASE_METHOD(RegistryFixture, "a digest with an unsupported algorithm is 400",
                 "[integration][errors]") {
  std::string sha384 = "sha384:" + std::string(96, 'a');
  SECTION("closing PUT") {
    std::string loc = StartUpload(cli, "app");
    httplib::Response r =
        Reply(cli.Put(WithQuery(loc, "digest=" + sha384), "x", "application/octet-stream"));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"DIGEST_INVALID"});
  }
  SECTION("single POST") {
    httplib::Response r =
        Reply(cli.Post("/v2/app/blobs/uploads/?digest=" + sha384, "x", "application/octet-stream"));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"DIGEST_INVALID"});
  }
  SECTION("digest-algorithm") {
    httplib::Response r = Reply(cli.Post("/v2/app/blobs/uploads/?digest-algorithm=sha384"));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"DIGEST_INVALID"});
  }
}

TEST_CASE_METHOD(RegistryFixture, "a digest mismatch is 400 DIGEST_INVALID and stores nothing",
                 "[integration][errors]") {
  std::string data = TestBytes(4096, 61);
  std::string claimed = Sha256("something else");
  SECTION("closing PUT") {
    std::string loc = StartUpload(cli, "app");
    httplib::Response r =
        Reply(cli.Put(WithQuery(loc, "digest=" + claimed), data, "application/octet-stream"));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"DIGEST_INVALID"});
  }
  SECTION("single POST") {
    httplib::Response r = Reply(
        cli.Post("/v2/app/blobs/uploads/?digest=" + claimed, data, "application/octet-stream"));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"DIGEST_INVALID"});
  }
  CHECK(Reply(cli.Head("/v2/app/blobs/" + claimed)).status == 404);
  CHECK(Reply(cli.Head("/v2/app/blobs/" + Sha256(data))).status == 404);
  CHECK(Reply(cli.Get("/v2/app/blobs/" + claimed)).status == 404);
}

TEST_CASE_METHOD(RegistryFixture, "an unknown upload id is 404 BLOB_UPLOAD_UNKNOWN",
                 "[integration][errors]") {
  StartUpload(cli, "app");  // the repository exists; the id does not
  const std::string loc = "/v2/app/blobs/uploads/00000000-0000-4000-8000-000000000000";
  RequireUploadUnknown(cli, loc);
  httplib::Response odd = Reply(cli.Get("/v2/app/blobs/uploads/..%2F..%2Fetc"));
  CHECK(odd.status == 404);
}

TEST_CASE_METHOD(RegistryFixture, "a chunk that does not start at the offset is 416",
                 "[integration][errors]") {
  std::string loc = StartUpload(cli, "app");
  httplib::Response first = Reply(PatchAt(cli, loc, TestBytes(100, 62), 0));
  REQUIRE(first.status == 202);
  loc = LocationPath(first.get_header_value("Location"));

  for (size_t offset : {50u, 101u, 0u}) {
    INFO("chunk at " << offset);
    httplib::Response r = Reply(PatchAt(cli, loc, TestBytes(100, 63), offset));
    CHECK(r.status == 416);
    CHECK(r.get_header_value("Range") == "0-99");
  }
  // An out-of-order last chunk in the closing PUT is refused the same way.
  std::string rest = TestBytes(100, 64);
  httplib::Response put = Reply(CloseUpload(cli, loc, Sha256(rest), rest, 150));
  CHECK(put.status == 416);
  // The session is unharmed and still at 100 bytes.
  CHECK(UploadRange(cli, loc) == "0-99");
}

// The registry refuses before reading the body; the client must still get
// the answer (RFC 9112, section 9.6: close without resetting the connection).
TEST_CASE_METHOD(RegistryFixture, "a refused multi-MiB chunk is still answered 416",
                 "[integration][errors]") {
  std::string loc = StartUpload(cli, "app");
  httplib::Response r = Reply(PatchAt(cli, loc, TestBytes(8 << 20, 65), 100));
  CHECK(r.status == 416);
  CHECK(UploadRange(cli, loc) == "0-0");
}

TEST_CASE_METHOD(RegistryFixture, "an upload session belongs to its repository",
                 "[integration][errors]") {
  std::string loc = StartUpload(cli, "first");
  std::string id = loc.substr(loc.rfind('/') + 1);
  REQUIRE_FALSE(id.empty());
  RequireUploadUnknown(cli, "/v2/second/blobs/uploads/" + id);
  CHECK(UploadRange(cli, loc) == "0-0");
}

TEST_CASE_METHOD(RegistryFixture, "a manifest naming an unknown blob is MANIFEST_BLOB_UNKNOWN",
                 "[integration][errors][manifest]") {
  std::string config = R"({"os":"linux"})";
  PushBlob(cli, "app", config);
  Descriptor missing = DescriptorOf(kOciLayer, "never pushed");
  SECTION("unknown layer") {
    std::string m = ImageManifest(DescriptorOf(kOciConfig, config), {missing});
    httplib::Response r = Reply(PutManifest(cli, "app", "v1", kOciManifest, m));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"MANIFEST_BLOB_UNKNOWN"});
  }
  SECTION("unknown config") {
    std::string m = ImageManifest(DescriptorOf(kOciConfig, "{}"), {});
    httplib::Response r = Reply(PutManifest(cli, "app", "v1", kOciManifest, m));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"MANIFEST_BLOB_UNKNOWN"});
  }
  SECTION("index naming an unknown manifest") {
    std::string m = IndexManifest(kOciIndex, {DescriptorOf(kOciManifest, "not pushed")});
    httplib::Response r = Reply(PutManifest(cli, "app", "v1", kOciIndex, m));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"MANIFEST_BLOB_UNKNOWN"});
  }
  // Nothing was tagged.
  CHECK(Reply(cli.Get("/v2/app/manifests/v1")).status == 404);
  httplib::Response tags = Reply(cli.Get("/v2/app/tags/list"));
  if (tags.status == 200)
    CHECK(json::parse(tags.body)["tags"] == json::array());
  else
    CHECK(ErrorCodes(tags.body) == Codes{"NAME_UNKNOWN"});
}

TEST_CASE_METHOD(RegistryFixture, "malformed manifests are 400 MANIFEST_INVALID",
                 "[integration][errors][manifest]") {
  PushedImage img = PushImage(cli, "app", "base", 64);
  std::string valid = ImageManifest(img.config, {img.layer});
  struct Case {
    const char* what;
    std::string content_type;
    std::string body;
  };
  json unknown_type = json::parse(valid);
  unknown_type["mediaType"] = "application/vnd.example.unknown+json";
  json wrong_version = json::parse(valid);
  wrong_version["schemaVersion"] = 1;
  json no_size = json::parse(valid);
  no_size["layers"][0].erase("size");
  for (const Case& c : {
           Case{"not JSON", kOciManifest, "{\"schemaVersion\": 2,"},
           Case{"a JSON array", kOciManifest, "[]"},
           Case{"unknown media type", "application/vnd.example.unknown+json", unknown_type.dump()},
           Case{"Content-Type differs from mediaType", kOciIndex, valid},
           Case{"schemaVersion 1", kOciManifest, wrong_version.dump()},
           Case{"descriptor without size", kOciManifest, no_size.dump()},
       }) {
    INFO(c.what);
    httplib::Response r = Reply(PutManifest(cli, "app", "bad", c.content_type, c.body));
    CHECK(r.status == 400);
    CHECK(ErrorCodes(r.body) == Codes{"MANIFEST_INVALID"});
  }
  CHECK(Reply(cli.Get("/v2/app/manifests/bad")).status == 404);
}

TEST_CASE_METHOD(RegistryFixture, "a manifest PUT by a digest it does not have is DIGEST_INVALID",
                 "[integration][errors][manifest]") {
  PushedImage img = PushImage(cli, "app", "v1", 65);
  std::string other = Sha256("other bytes");
  httplib::Response r = Reply(PutManifest(cli, "app", other, kOciManifest, img.manifest));
  CHECK(r.status == 400);
  CHECK(ErrorCodes(r.body) == Codes{"DIGEST_INVALID"});
  CHECK(Reply(cli.Get("/v2/app/manifests/" + other)).status == 404);
}

TEST_CASE_METHOD(RegistryFixture, "an invalid tag is rejected with 400",
                 "[integration][errors][manifest]") {
  PushedImage img = PushImage(cli, "app", "v1", 66);
  httplib::Response r = Reply(PutManifest(cli, "app", "-bad", kOciManifest, img.manifest));
  CHECK(r.status == 400);
  CHECK(ErrorCodes(r.body).size() == 1);
  httplib::Response extra =
      Reply(PutManifest(cli, "app", img.digest + "?tag=ok&tag=.bad", kOciManifest, img.manifest));
  CHECK(extra.status == 400);
  CHECK(Reply(cli.Get("/v2/app/manifests/ok")).status == 404);
}

TEST_CASE_METHOD(RegistryFixture, "the default manifest limit is 4 MiB",
                 "[integration][errors][manifest][limit]") {
  constexpr size_t kLimit = 4 << 20;
  PushedImage img = PushImage(cli, "app", "small", 67);
  SECTION("exactly 4 MiB is accepted") {
    std::string m = ManifestOfSize(img, kLimit);
    httplib::Response r = Reply(PutManifest(cli, "app", "at-limit", kOciManifest, m));
    CHECK(r.status == 201);
    httplib::Response get = Reply(cli.Get("/v2/app/manifests/at-limit"));
    CHECK(get.status == 200);
    CHECK(get.body == m);
  }
  SECTION("one byte more is 413") {
    std::string m = ManifestOfSize(img, kLimit + 1);
    httplib::Response r = Reply(PutManifest(cli, "app", "too-big", kOciManifest, m));
    CHECK(r.status == 413);
    CHECK(ErrorCodes(r.body).size() == 1);
    CHECK(Reply(cli.Get("/v2/app/manifests/too-big")).status == 404);
  }
}

struct SmallLimitFixture : RegistryFixture {
  SmallLimitFixture() : RegistryFixture(WithConfig("limits:\n  manifest_bytes: 1024\n")) {}
};

TEST_CASE_METHOD(SmallLimitFixture, "limits.manifest_bytes sets the manifest limit",
                 "[integration][errors][manifest][limit]") {
  PushedImage img = PushImage(cli, "app", "", 68);
  REQUIRE(img.manifest.size() < 1024);
  httplib::Response at =
      Reply(PutManifest(cli, "app", "at-limit", kOciManifest, ManifestOfSize(img, 1024)));
  CHECK(at.status == 201);
  httplib::Response over =
      Reply(PutManifest(cli, "app", "over", kOciManifest, ManifestOfSize(img, 1025)));
  CHECK(over.status == 413);
  CHECK(Reply(cli.Get("/v2/app/manifests/over")).status == 404);
  SECTION("also when the body is sent without a length") {
    std::string m = ManifestOfSize(img, 1025);
    httplib::Response r = Reply(cli.Put(
        "/v2/app/manifests/chunked", httplib::Headers{},
        [&m](size_t offset, httplib::DataSink& sink) {
          if (offset >= m.size()) {
            sink.done();
            return true;
          }
          return sink.write(m.data() + offset, std::min<size_t>(100, m.size() - offset));
        },
        kOciManifest));
    CHECK(r.status == 413);
  }
}

struct NoDeleteFixture : RegistryFixture {
  NoDeleteFixture() : RegistryFixture(WithConfig("storage:\n  delete: false\n")) {}
};

TEST_CASE_METHOD(NoDeleteFixture, "with deletion disabled DELETE is refused",
                 "[integration][errors][delete]") {
  PushedImage img = PushImage(cli, "app", "v1", 69);
  for (const std::string& path :
       {std::string("/v2/app/manifests/v1"), "/v2/app/manifests/" + img.digest,
        "/v2/app/blobs/" + img.layer.digest}) {
    INFO("DELETE " << path);
    httplib::Response r = Reply(cli.Delete(path));
    CHECK((r.status == 405 || r.status == 400));
    CHECK(ErrorCodes(r.body).size() == 1);
  }
  CHECK(Reply(cli.Get("/v2/app/manifests/v1")).status == 200);
  CHECK(Reply(cli.Head("/v2/app/blobs/" + img.layer.digest)).status == 200);
}

}  // namespace
}  // namespace hoist::itest
