#include "registry/http/content_coding.h"

#include <zlib.h>
#include <zstd.h>

#include <catch2/catch.hpp>

namespace hoist::http {
namespace {

Request WithAcceptEncoding(std::vector<std::string> values) {
  Request req;
  req.method = "GET";
  for (std::string& v : values) req.headers.emplace_back("Accept-Encoding", std::move(v));
  return req;
}

TEST_CASE("PreferredCoding: q-values, wildcards, ties", "[coding]") {
  CHECK(PreferredCoding(Request{}).empty());
  CHECK(PreferredCoding(WithAcceptEncoding({"gzip"})) == "gzip");
  CHECK(PreferredCoding(WithAcceptEncoding({"gzip, zstd"})) == "zstd");  // tie: zstd
  CHECK(PreferredCoding(WithAcceptEncoding({"gzip;q=1, zstd;q=0.5"})) == "gzip");
  CHECK(PreferredCoding(WithAcceptEncoding({"zstd;q=0, gzip"})) == "gzip");  // Beast's last element
  CHECK(PreferredCoding(WithAcceptEncoding({"zstd;q=0", "gzip;q=0.001"})) == "gzip");
  CHECK(PreferredCoding(WithAcceptEncoding({"*"})) == "zstd");
  CHECK(PreferredCoding(WithAcceptEncoding({"zstd;q=0, *;q=0.2"})) == "gzip");
  CHECK(PreferredCoding(WithAcceptEncoding({"br, identity"})).empty());
  CHECK(PreferredCoding(WithAcceptEncoding({"gzip;q=0, zstd;q=0"})).empty());
  CHECK(PreferredCoding(WithAcceptEncoding({"gzip;q=2"})).empty());  // malformed q: ignored
  CHECK(PreferredCoding(WithAcceptEncoding({"gzip;q=0.5.1"})).empty());
  CHECK(PreferredCoding(WithAcceptEncoding({"GZIP;Q=0.5"})) == "gzip");
  CHECK(PreferredCoding(WithAcceptEncoding({""})).empty());
}

TEST_CASE("Encode: zstd and gzip decode to the same bytes", "[coding]") {
  std::string body;
  for (int i = 0; i < 200; ++i) body += "{\"digest\":\"sha256:" + std::to_string(i) + "\"},";
  auto z = Encode("zstd", body);
  REQUIRE(z.ok());
  std::string back(body.size(), '\0');
  REQUIRE(ZSTD_decompress(back.data(), back.size(), z->data(), z->size()) == body.size());
  CHECK(back == body);
  auto g = Encode("gzip", body);
  REQUIRE(g.ok());
  REQUIRE(g->size() > 10);
  CHECK(static_cast<unsigned char>((*g)[0]) == 0x1f);  // RFC 1952 magic
  z_stream s{};
  REQUIRE(inflateInit2(&s, 15 + 16) == Z_OK);
  std::string out(body.size() + 16, '\0');
  s.next_in = reinterpret_cast<Bytef*>(g->data());
  s.avail_in = static_cast<uInt>(g->size());
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(out.size());
  CHECK(inflate(&s, Z_FINISH) == Z_STREAM_END);
  out.resize(s.total_out);
  inflateEnd(&s);
  CHECK(out == body);
  CHECK(!Encode("br", body).ok());
}

TEST_CASE("EncodeResponse: only a GET's 200 body of some size, ETag weakened", "[coding]") {
  Request req = WithAcceptEncoding({"gzip"});
  Response small;
  small.body = "{}";
  EncodeResponse(req, small);
  CHECK(small.body == "{}");
  Response big;
  big.body = std::string(4096, 'a');
  big.Set("ETag", "\"sha256:abc\"");
  EncodeResponse(req, big);
  CHECK(big.body.size() < 4096);
  bool weak = false, encoded = false;
  for (const auto& [k, v] : big.headers) {
    weak = weak || (k == "ETag" && v == "W/\"sha256:abc\"");
    encoded = encoded || (k == "Content-Encoding" && v == "gzip");
  }
  CHECK(weak);
  CHECK(encoded);
  Request head = req;
  head.method = "HEAD";
  Response h;
  h.body = std::string(4096, 'a');
  EncodeResponse(head, h);
  CHECK(h.body.size() == 4096);
  Response err;
  err.status = 404;
  err.body = std::string(4096, 'a');
  EncodeResponse(req, err);
  CHECK(err.body.size() == 4096);
}

}  // namespace
}  // namespace hoist::http
