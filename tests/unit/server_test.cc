#include "registry/http/server.h"

#include <catch2/catch.hpp>
#include <string>

namespace hoist::http {
namespace {

TEST_CASE("IEquals compares ASCII case-insensitively", "[http]") {
  CHECK(IEquals("Content-Length", "content-length"));
  CHECK(IEquals("", ""));
  CHECK_FALSE(IEquals("Content-Length", "Content-Lengt"));
  CHECK_FALSE(IEquals("a", "b"));
  CHECK_FALSE(IEquals("[", "{"));  // only letters fold
}

TEST_CASE("PercentDecode decodes escapes and keeps broken ones", "[http]") {
  CHECK(PercentDecode("a%2Fb%2fc", false) == "a/b/c");
  CHECK(PercentDecode("%41", false) == "A");
  CHECK(PercentDecode("x%4", false) == "x%4");
  CHECK(PercentDecode("%zz%", false) == "%zz%");
  CHECK(PercentDecode("%00", false) == std::string(1, '\0'));
}

TEST_CASE("PercentDecode turns '+' into a space only when asked", "[http]") {
  CHECK(PercentDecode("a+b", false) == "a+b");
  CHECK(PercentDecode("a+b", true) == "a b");
  CHECK(PercentDecode("a%2Bb", true) == "a+b");
}

TEST_CASE("PercentEncode keeps path characters and escapes the rest", "[http]") {
  CHECK(PercentEncode("library/ubuntu:sha256-x_y.z~") == "library/ubuntu:sha256-x_y.z~");
  CHECK(PercentEncode("a b&c=d?") == "a%20b%26c%3Dd%3F");
  CHECK(PercentEncode("\xc3\xa9") == "%C3%A9");
}

TEST_CASE("PercentEncode then PercentDecode round trips", "[http]") {
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  CHECK(PercentDecode(PercentEncode(all), false) == all);
  CHECK(PercentDecode(PercentEncode("a+b c"), true) == "a+b c");
}

TEST_CASE("Request looks up headers case-insensitively and queries exactly", "[http]") {
  Request r;
  r.headers = {{"Content-Type", "application/json"}, {"X-A", "1"}, {"x-a", "2"}};
  r.query = {{"n", "10"}, {"tag", "a"}, {"tag", "b"}};
  REQUIRE(r.Header("content-type") != nullptr);
  CHECK(*r.Header("content-type") == "application/json");
  CHECK(*r.Header("X-a") == "1");
  CHECK(r.Header("Accept") == nullptr);
  CHECK(r.Query("n") == "10");
  CHECK_FALSE(r.Query("N").has_value());
  CHECK(r.QueryAll("tag") == std::vector<std::string>{"a", "b"});
  CHECK_FALSE(r.HasBody());
  r.content_length = 3;
  CHECK(r.HasBody());
}

}  // namespace
}  // namespace hoist::http
