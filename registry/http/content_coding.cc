#include "registry/http/content_coding.h"

#include <zlib.h>
#include <zstd.h>

#include <boost/beast/http/rfc7230.hpp>
#include <cstdlib>

namespace hoist::http {

namespace {

constexpr std::string_view kSentinel = "hoist-end-of-list";

// A qvalue (RFC 9110 §12.4.2) in thousandths; -1 when malformed.
int QValue(std::string_view v) {
  if (v.empty() || v.size() > 5 || (v[0] != '0' && v[0] != '1')) return -1;
  int q = (v[0] - '0') * 1000;
  if (v.size() == 1) return q;
  if (v[1] != '.') return -1;
  int scale = 100;
  for (char c : v.substr(2)) {
    if (c < '0' || c > '9') return -1;
    q += (c - '0') * scale;
    scale /= 10;
  }
  return q > 1000 ? -1 : q;
}

}  // namespace

std::string PreferredCoding(const Request& req) {
  // q in thousandths for zstd, gzip and "*"; -1: not named.
  int zstd = -1, gzip = -1, any = -1;
  bool seen = false;
  for (const auto& [name, value] : req.headers) {
    if (!IEquals(name, "Accept-Encoding")) continue;
    seen = true;
    // Beast 1.81's ext_list hands the last element the parameters of the
    // one before it ("zstd;q=0, gzip" gives gzip q=0): a sentinel element
    // goes last, and is skipped.
    std::string list = value + ", " + std::string(kSentinel);
    for (const auto& element : boost::beast::http::ext_list(list)) {
      if (element.first == kSentinel) continue;
      int q = 1000;
      for (const auto& param : element.second) {
        if (IEquals(param.first, "q")) q = QValue(param.second);
      }
      if (q < 0) continue;
      std::string_view coding(element.first.data(), element.first.size());
      if (IEquals(coding, "zstd")) {
        zstd = q;
      } else if (IEquals(coding, "gzip") || IEquals(coding, "x-gzip")) {
        gzip = q;
      } else if (coding == "*") {
        any = q;
      }
    }
  }
  if (!seen) return "";
  if (zstd < 0) zstd = any;
  if (gzip < 0) gzip = any;
  if (zstd <= 0 && gzip <= 0) return "";
  return zstd >= gzip ? "zstd" : "gzip";
}

Result<std::string> Encode(std::string_view coding, std::string_view body) {
  std::string out;
  if (coding == "zstd") {
    out.resize(ZSTD_compressBound(body.size()));
    size_t n = ZSTD_compress(out.data(), out.size(), body.data(), body.size(), 3);
    if (ZSTD_isError(n)) return Status(Code::kInternal, ZSTD_getErrorName(n));
    out.resize(n);
    return out;
  }
  if (coding != "gzip")
    return Status(Code::kInvalidArgument, "unknown coding " + std::string(coding));
  z_stream z{};
  // windowBits 15 + 16: a gzip wrapper (RFC 1952) rather than zlib's.
  if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return Status(Code::kInternal, "deflateInit2 failed");
  }
  out.resize(deflateBound(&z, body.size()) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  z.avail_in = static_cast<uInt>(body.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  size_t n = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return Status(Code::kInternal, "deflate failed");
  out.resize(n);
  return out;
}

void EncodeResponse(const Request& req, Response& resp, size_t min_bytes) {
  // Every answer on a URL that may be encoded varies with Accept-Encoding
  // (HEAD and errors too), so no shared cache mixes the two.
  resp.Set("Vary", "Accept-Encoding");
  if (resp.status != 200 || req.method != "GET" || resp.stream) return;
  if (resp.body.size() < min_bytes) return;
  std::string coding = PreferredCoding(req);
  if (coding.empty()) return;
  Result<std::string> encoded = Encode(coding, resp.body);
  if (!encoded.ok() || encoded->size() >= resp.body.size()) return;
  resp.body = std::move(*encoded);
  resp.Set("Content-Encoding", coding);
  for (auto& [name, value] : resp.headers) {
    if (IEquals(name, "ETag") && value.rfind("W/", 0) != 0) value = "W/" + value;
  }
}

}  // namespace hoist::http
