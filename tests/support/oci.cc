#include "support/oci.h"

#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <random>

namespace hoist::itest {
namespace {

std::string HexDigest(const EVP_MD* md, const char* name, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string s = std::string(name) + ":";
  for (unsigned int i = 0; i < len; ++i) {
    s += kHex[out[i] >> 4];
    s += kHex[out[i] & 15];
  }
  return s;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.erase(0, 1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  return s;
}

}  // namespace

std::string Sha256(std::string_view data) {
  return HexDigest(EVP_sha256(), "sha256", data);
}
std::string Sha512(std::string_view data) {
  return HexDigest(EVP_sha512(), "sha512", data);
}

std::string TestBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

httplib::Response Reply(const httplib::Result& result) {
  INFO("transport error: " << httplib::to_string(result.error()));
  REQUIRE(result);
  return *result;
}

std::vector<std::string> ErrorCodes(const std::string& body) {
  std::vector<std::string> codes;
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("errors") || !j["errors"].is_array()) return codes;
  for (const auto& e : j["errors"]) {
    if (e.is_object() && e.contains("code") && e["code"].is_string()) {
      codes.push_back(e["code"].get<std::string>());
    }
  }
  return codes;
}

std::vector<std::string> HeaderValues(const httplib::Response& r, const std::string& name) {
  std::vector<std::string> out;
  size_t n = r.get_header_value_count(name);
  for (size_t i = 0; i < n; ++i) {
    std::string v = r.get_header_value(name, i);
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      std::string item = Trim(v.substr(start, comma == std::string::npos ? comma : comma - start));
      if (!item.empty()) out.push_back(item);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

std::string LocationPath(const std::string& location) {
  size_t scheme = location.find("://");
  if (scheme == std::string::npos) return location;
  size_t slash = location.find('/', scheme + 3);
  return slash == std::string::npos ? "/" : location.substr(slash);
}

std::string WithQuery(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

std::string NextLink(const httplib::Response& r) {
  std::string link = r.get_header_value("Link");
  size_t open = link.find('<'), close = link.find('>');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  if (link.find("rel=\"next\"", close) == std::string::npos) return "";
  return LocationPath(link.substr(open + 1, close - open - 1));
}

nlohmann::json CollectPages(httplib::Client& cli, std::string path, const std::string& member) {
  constexpr int kMaxPages = 20;
  nlohmann::json all = nlohmann::json::array();
  for (int page = 0; page < kMaxPages && !path.empty(); ++page) {
    httplib::Response r = Reply(cli.Get(path));
    INFO("GET " << path << " -> " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
    REQUIRE(j.is_object());
    REQUIRE(j[member].is_array());
    for (const auto& item : j[member]) all.push_back(item);
    path = NextLink(r);
  }
  REQUIRE(path.empty());
  return all;
}

nlohmann::json Descriptor::ToJson() const {
  return {{"mediaType", media_type}, {"digest", digest}, {"size", size}};
}

Descriptor DescriptorOf(std::string media_type, std::string_view content) {
  return Descriptor{std::move(media_type), Sha256(content), static_cast<int64_t>(content.size())};
}

std::string StartUpload(httplib::Client& cli, const std::string& repo, const std::string& query) {
  std::string path = "/v2/" + repo + "/blobs/uploads/" + (query.empty() ? "" : "?" + query);
  httplib::Response r = Reply(cli.Post(path));
  INFO("POST " << path << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 202);
  REQUIRE(r.has_header("Location"));
  return LocationPath(r.get_header_value("Location"));
}

namespace {
httplib::Headers ContentRange(const std::string& chunk, size_t offset) {
  return {
      {"Content-Range", std::to_string(offset) + "-" + std::to_string(offset + chunk.size() - 1)}};
}
}  // namespace

httplib::Result PatchAt(httplib::Client& cli, const std::string& loc, const std::string& chunk,
                        size_t offset) {
  return cli.Patch(loc, ContentRange(chunk, offset), chunk, "application/octet-stream");
}

httplib::Result CloseUpload(httplib::Client& cli, const std::string& loc, const std::string& digest,
                            const std::string& chunk, size_t offset) {
  std::string url = WithQuery(loc, "digest=" + digest);
  if (chunk.empty()) return cli.Put(url);
  return cli.Put(url, ContentRange(chunk, offset), chunk, "application/octet-stream");
}

std::string UploadRange(httplib::Client& cli, const std::string& loc) {
  httplib::Response r = Reply(cli.Get(loc));
  INFO("GET " << loc << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 204);
  return r.get_header_value("Range");
}

void RequireUploadUnknown(httplib::Client& cli, const std::string& loc) {
  const std::vector<std::string> kUnknown = {"BLOB_UPLOAD_UNKNOWN"};
  httplib::Response get = Reply(cli.Get(loc));
  CHECK(get.status == 404);
  CHECK(ErrorCodes(get.body) == kUnknown);
  httplib::Response patch = Reply(PatchAt(cli, loc, "abc", 0));
  CHECK(patch.status == 404);
  CHECK(ErrorCodes(patch.body) == kUnknown);
  httplib::Response put = Reply(CloseUpload(cli, loc, Sha256("abc"), "abc", 0));
  CHECK(put.status == 404);
  CHECK(ErrorCodes(put.body) == kUnknown);
  httplib::Response del = Reply(cli.Delete(loc));
  CHECK(del.status == 404);
  CHECK(ErrorCodes(del.body) == kUnknown);
}

std::string PushBlob(httplib::Client& cli, const std::string& repo, const std::string& data) {
  std::string digest = Sha256(data);
  std::string loc = StartUpload(cli, repo);
  httplib::Response r =
      Reply(cli.Put(WithQuery(loc, "digest=" + digest), data, "application/octet-stream"));
  INFO("PUT " << loc << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 201);
  return digest;
}

std::string ImageManifest(const Descriptor& config, const std::vector<Descriptor>& layers,
                          const nlohmann::json& extra) {
  nlohmann::json m = {{"schemaVersion", 2},
                      {"mediaType", kOciManifest},
                      {"config", config.ToJson()},
                      {"layers", nlohmann::json::array()}};
  for (const Descriptor& l : layers) m["layers"].push_back(l.ToJson());
  for (auto it = extra.begin(); it != extra.end(); ++it) m[it.key()] = it.value();
  return m.dump();
}

std::string IndexManifest(const std::string& media_type, const std::vector<Descriptor>& manifests) {
  nlohmann::json m = {
      {"schemaVersion", 2}, {"mediaType", media_type}, {"manifests", nlohmann::json::array()}};
  for (const Descriptor& d : manifests) m["manifests"].push_back(d.ToJson());
  return m.dump();
}

httplib::Result PutManifest(httplib::Client& cli, const std::string& repo,
                            const std::string& reference, const std::string& content_type,
                            const std::string& body) {
  return cli.Put("/v2/" + repo + "/manifests/" + reference, body, content_type);
}

PushedImage PushImage(httplib::Client& cli, const std::string& repo, const std::string& reference,
                      uint32_t seed, const nlohmann::json& extra) {
  PushedImage img;
  std::string config =
      nlohmann::json{{"architecture", "amd64"},
                     {"os", "linux"},
                     {"seed", seed},
                     {"rootfs", {{"type", "layers"}, {"diff_ids", nlohmann::json::array()}}}}
          .dump();
  std::string layer = TestBytes(1024 + seed % 512, seed);
  img.config = DescriptorOf(kOciConfig, config);
  img.layer = DescriptorOf(kOciLayer, layer);
  REQUIRE(PushBlob(cli, repo, config) == img.config.digest);
  REQUIRE(PushBlob(cli, repo, layer) == img.layer.digest);
  img.manifest = ImageManifest(img.config, {img.layer}, extra);
  img.digest = Sha256(img.manifest);
  std::string ref = reference.empty() ? img.digest : reference;
  httplib::Response r = Reply(PutManifest(cli, repo, ref, kOciManifest, img.manifest));
  INFO("PUT manifest " << repo << ":" << ref << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == 201);
  return img;
}

}  // namespace hoist::itest
