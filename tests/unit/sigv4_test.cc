#include "registry/storage/sigv4.h"

#include <catch2/catch.hpp>

namespace hoist::storage {
namespace {

// AWS's Signature Version 4 test suite: its example credentials, the
// service "service", 2015-08-30T12:36:00Z.
constexpr int64_t kSuiteTime = 1440938160;

SigV4Credentials SuiteCredentials() {
  SigV4Credentials c;
  c.access_key = "AKIDEXAMPLE";
  c.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  c.region = "us-east-1";
  c.service = "service";
  return c;
}

const char* kEmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST_CASE("SigV4 signs AWS's test suite requests as AWS does", "[sigv4]") {
  SigV4Request r;
  r.method = "GET";
  r.host = "example.amazonaws.com";
  r.path = "/";
  r.payload_hash = kEmptyHash;
  std::vector<std::string> h = SignV4(SuiteCredentials(), r, kSuiteTime);
  REQUIRE(h.size() == 2);
  CHECK(h[0] == "X-Amz-Date: 20150830T123600Z");
  // get-vanilla
  CHECK(h[1] ==
        "Authorization: AWS4-HMAC-SHA256 "
        "Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, "
        "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
  // get-vanilla-query-order-key-case: the query is signed sorted.
  r.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  h = SignV4(SuiteCredentials(), r, kSuiteTime);
  CHECK(h[1].ends_with("b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"));
}

TEST_CASE("SigV4 signs every header given, by lower-case name", "[sigv4]") {
  SigV4Request r;
  r.method = "PUT";
  r.host = "127.0.0.1:7480";
  r.path = "/bucket/docker/registry/v2/a%20b";
  r.headers = {"x-amz-content-sha256: UNSIGNED-PAYLOAD", "Range:  bytes=0-9 "};
  r.payload_hash = "UNSIGNED-PAYLOAD";
  std::vector<std::string> a = SignV4(SuiteCredentials(), r, kSuiteTime);
  CHECK(a[1].find("SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,") !=
        std::string::npos);
  // Any change to what is signed changes the signature; the spaces of a
  // header value in canonical form do not.
  r.headers[1] = "Range: bytes=0-9";
  CHECK(SignV4(SuiteCredentials(), r, kSuiteTime) == a);
  r.headers[1] = "Range: bytes=0-8";
  CHECK(SignV4(SuiteCredentials(), r, kSuiteTime) != a);
  r.headers[1] = "Range: bytes=0-9";
  r.path = "/bucket/docker/registry/v2/a%20c";
  CHECK(SignV4(SuiteCredentials(), r, kSuiteTime) != a);
}

}  // namespace
}  // namespace hoist::storage
