#include <catch2/catch.hpp>
#include <string>

#include "registry/api.h"

namespace hoist::registry {
namespace {

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST_CASE("MatchRoute: fixed endpoints", "[route]") {
  CHECK(MatchRoute("/v2/").route == Route::kBase);
  CHECK(MatchRoute("/v2").route == Route::kBase);
  CHECK(MatchRoute("/v2/_catalog").route == Route::kCatalog);
  CHECK(MatchRoute("/healthz").route == Route::kHealth);
  CHECK(MatchRoute("/v2/").name.empty());
  CHECK(MatchRoute("/metrics").route == Route::kMetrics);
  CHECK(MatchRoute("/token").route == Route::kToken);
  CHECK(MatchRoute("/metrics/x").route == Route::kNone);
}

TEST_CASE("RouteName: every route has a metrics label, the rest are other", "[route]") {
  for (Route r : {Route::kBase, Route::kCatalog, Route::kHealth, Route::kTags, Route::kManifest,
                  Route::kBlob, Route::kUploadStart, Route::kUpload, Route::kReferrers,
                  Route::kMetrics, Route::kToken, Route::kUi, Route::kNone}) {
    std::string_view name = RouteName(r);
    INFO(name);
    CHECK(std::find(Metrics::kRoutes.begin(), Metrics::kRoutes.end(), name) !=
          Metrics::kRoutes.end());
  }
  CHECK(RouteName(Route::kNone) == "other");
  CHECK(RouteName(Route::kUi) == "ui");  // not counted as "other"
}

TEST_CASE("MatchRoute: tags list", "[route]") {
  Target t = MatchRoute("/v2/library/ubuntu/tags/list");
  CHECK(t.route == Route::kTags);
  CHECK(t.name == "library/ubuntu");
}

TEST_CASE("MatchRoute: manifests by tag and by digest", "[route]") {
  Target t = MatchRoute("/v2/a/b/manifests/latest");
  CHECK(t.route == Route::kManifest);
  CHECK(t.name == "a/b");
  CHECK(t.ref == "latest");
  Target d = MatchRoute("/v2/a/manifests/" + kDigest);
  CHECK(d.route == Route::kManifest);
  CHECK(d.name == "a");
  CHECK(d.ref == kDigest);
}

TEST_CASE("MatchRoute: blobs", "[route]") {
  Target t = MatchRoute("/v2/foo/bar/blobs/" + kDigest);
  CHECK(t.route == Route::kBlob);
  CHECK(t.name == "foo/bar");
  CHECK(t.ref == kDigest);
}

TEST_CASE("MatchRoute: upload start with and without a trailing slash", "[route]") {
  Target slash = MatchRoute("/v2/a/b/blobs/uploads/");
  CHECK(slash.route == Route::kUploadStart);
  CHECK(slash.name == "a/b");
  CHECK(slash.ref.empty());
  Target bare = MatchRoute("/v2/a/b/blobs/uploads");
  CHECK(bare.route == Route::kUploadStart);
  CHECK(bare.name == "a/b");
}

TEST_CASE("MatchRoute: upload session id", "[route]") {
  Target t = MatchRoute("/v2/a/blobs/uploads/0f3c2a1e-1111-4222-8333-444455556666");
  CHECK(t.route == Route::kUpload);
  CHECK(t.name == "a");
  CHECK(t.ref == "0f3c2a1e-1111-4222-8333-444455556666");
}

TEST_CASE("MatchRoute: referrers", "[route]") {
  Target t = MatchRoute("/v2/org/app/referrers/" + kDigest);
  CHECK(t.route == Route::kReferrers);
  CHECK(t.name == "org/app");
  CHECK(t.ref == kDigest);
}

TEST_CASE("MatchRoute: names may contain blobs and manifests components", "[route]") {
  Target m = MatchRoute("/v2/a/blobs/b/manifests/latest");
  CHECK(m.route == Route::kManifest);
  CHECK(m.name == "a/blobs/b");
  CHECK(m.ref == "latest");

  Target b = MatchRoute("/v2/manifests/x/blobs/" + kDigest);
  CHECK(b.route == Route::kBlob);
  CHECK(b.name == "manifests/x");

  Target tags = MatchRoute("/v2/blobs/tags/list");
  CHECK(tags.route == Route::kTags);
  CHECK(tags.name == "blobs");

  Target up = MatchRoute("/v2/x/manifests/y/blobs/uploads/");
  CHECK(up.route == Route::kUploadStart);
  CHECK(up.name == "x/manifests/y");
}

TEST_CASE("MatchRoute: paths outside the API do not match", "[route]") {
  CHECK(MatchRoute("/v3/x").route == Route::kNone);
  CHECK(MatchRoute("/v2/x/unknown/y").route == Route::kNone);
  CHECK(MatchRoute("/").route == Route::kNone);
  CHECK(MatchRoute("").route == Route::kNone);
  CHECK(MatchRoute("/v2x/a/manifests/latest").route == Route::kNone);
  CHECK(MatchRoute("/v2/manifests/latest").route == Route::kNone);  // no name
  CHECK(MatchRoute("/v2/a/manifests/").route == Route::kNone);      // no reference
  CHECK(MatchRoute("/v2/a/blobs/").route == Route::kNone);
}

}  // namespace
}  // namespace hoist::registry
