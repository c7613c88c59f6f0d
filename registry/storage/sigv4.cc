#include "registry/storage/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>
#include <string_view>

namespace hoist::storage {

namespace {

std::string Hex(const unsigned char* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

std::string Sha256Hex(std::string_view s) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), md);
  return Hex(md, sizeof md);
}

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  return std::string(reinterpret_cast<const char*>(md), len);
}

// A header value in canonical form: trimmed, inner runs of spaces as one.
std::string CanonicalValue(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::vector<std::string> SignV4(const SigV4Credentials& creds, const SigV4Request& r,
                                int64_t unix_time) {
  std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[17], day[9];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::strftime(day, sizeof day, "%Y%m%d", &tm);

  // Headers by lower-case name; repeated ones joined with commas.
  std::map<std::string, std::string> headers;
  auto add = [&](std::string_view name, std::string_view value) {
    std::string key(name);
    std::transform(key.begin(), key.end(), key.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string& v = headers[key];
    v += (v.empty() ? "" : ",") + CanonicalValue(value);
  };
  add("host", r.host);
  add("x-amz-date", stamp);
  for (const std::string& h : r.headers) {
    size_t colon = h.find(':');
    if (colon != std::string::npos) add(h.substr(0, colon), std::string_view(h).substr(colon + 1));
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  std::vector<std::pair<std::string, std::string>> query = r.query;
  std::sort(query.begin(), query.end());
  std::string canonical_query;
  for (const auto& [k, v] : query) {
    canonical_query += (canonical_query.empty() ? "" : "&") + k + "=" + v;
  }
  std::string canonical = r.method + "\n" + (r.path.empty() ? "/" : r.path) + "\n" +
                          canonical_query + "\n" + canonical_headers + "\n" + signed_headers +
                          "\n" + r.payload_hash;

  std::string scope = std::string(day) + "/" + creds.region + "/" + creds.service + "/aws4_request";
  std::string to_sign =
      "AWS4-HMAC-SHA256\n" + std::string(stamp) + "\n" + scope + "\n" + Sha256Hex(canonical);
  std::string key = Hmac("AWS4" + creds.secret_key, day);
  key = Hmac(key, creds.region);
  key = Hmac(key, creds.service);
  key = Hmac(key, "aws4_request");
  std::string sig = Hmac(key, to_sign);
  return {"X-Amz-Date: " + std::string(stamp),
          "Authorization: AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + scope +
              ", SignedHeaders=" + signed_headers +
              ", Signature=" + Hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size())};
}

}  // namespace hoist::storage
