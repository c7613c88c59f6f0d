#include "registry/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string_view>

#include "registry/storage/blob_cache.h"
#include "registry/storage/paths.h"

namespace hoist::registry {
namespace {

Status CheckKeys(const YAML::Node& node, const std::string& where,
                 const std::set<std::string>& allowed) {
  if (!node.IsMap()) return Status(Code::kInvalidArgument, where + ": expected a mapping");
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    if (!allowed.count(key)) {
      return Status(Code::kInvalidArgument, where + ": unknown key \"" + key + "\"");
    }
  }
  return Status::Ok();
}

// node[key], when present, read by `parse` (ParseDuration, ParseSize) into
// *out; an error names `where`.key.
Status ReadNumber(const YAML::Node& node, const std::string& key, const std::string& where,
                  Result<int64_t> (*parse)(const std::string&, const std::string&), int64_t* out) {
  if (!node[key]) return Status::Ok();
  Result<int64_t> n = parse(node[key].as<std::string>(), where + "." + key);
  if (!n.ok()) return n.status();
  *out = *n;
  return Status::Ok();
}

}  // namespace

Status LoadConfigFile(const std::string& path, Config* c) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (root.IsNull()) return Status::Ok();
    HOIST_RETURN_IF_ERROR(CheckKeys(root, path,
                                    {"http", "storage", "log", "limits", "auth", "access", "gc",
                                     "validation", "ui", "proxy", "scan"}));
    if (auto px = root["proxy"]) {
      HOIST_RETURN_IF_ERROR(CheckKeys(px, path + ": proxy",
                                      {"remoteurl", "username", "password", "tag_ttl", "cafile"}));
      if (px["remoteurl"]) c->proxy.upstream = px["remoteurl"].as<std::string>();
      if (px["username"]) c->proxy.username = px["username"].as<std::string>();
      if (px["password"]) c->proxy.password = px["password"].as<std::string>();
      if (px["cafile"]) c->proxy.ca_file = px["cafile"].as<std::string>();
      HOIST_RETURN_IF_ERROR(
          ReadNumber(px, "tag_ttl", path + ": proxy", ParseDuration, &c->proxy.tag_ttl_ms));
    }
    if (auto ui = root["ui"]) {
      HOIST_RETURN_IF_ERROR(CheckKeys(ui, path + ": ui", {"enabled"}));
      if (ui["enabled"]) c->ui_enabled = ui["enabled"].as<bool>();
    }
    if (auto v = root["validation"]) {
      HOIST_RETURN_IF_ERROR(
          CheckKeys(v, path + ": validation", {"sparse_indexes", "sparse_manifests", "manifests"}));
      if (v["sparse_manifests"] && v["sparse_manifests"].as<bool>()) {
        c->reference_policy.blobs_required = false;
      }
      if (v["sparse_indexes"] && v["sparse_indexes"].as<bool>()) {
        c->reference_policy.children = ReferencePolicy::Children::kNone;
      }
      if (auto m = v["manifests"]) {
        HOIST_RETURN_IF_ERROR(CheckKeys(m, path + ": validation.manifests", {"indexes"}));
        if (auto ix = m["indexes"]) {
          HOIST_RETURN_IF_ERROR(CheckKeys(ix, path + ": validation.manifests.indexes",
                                          {"platforms", "platformlist"}));
          std::string mode = ix["platforms"] ? ix["platforms"].as<std::string>() : "all";
          if (mode == "all") {
            c->reference_policy.children = ReferencePolicy::Children::kAll;
          } else if (mode == "none") {
            c->reference_policy.children = ReferencePolicy::Children::kNone;
          } else if (mode == "list") {
            c->reference_policy.children = ReferencePolicy::Children::kListed;
          } else {
            return Status(Code::kInvalidArgument,
                          path + ": validation.manifests.indexes.platforms must be all|none|list");
          }
          if (auto list = ix["platformlist"]) {
            if (!list.IsSequence()) {
              return Status(Code::kInvalidArgument,
                            path + ": validation.manifests.indexes.platformlist must be a list");
            }
            for (const auto& p : list) {
              HOIST_RETURN_IF_ERROR(
                  CheckKeys(p, path + ": platformlist[]", {"os", "architecture"}));
              if (!p["os"] || !p["architecture"]) {
                return Status(Code::kInvalidArgument,
                              path + ": platformlist[] needs os and architecture");
              }
              c->reference_policy.platforms.emplace_back(p["os"].as<std::string>(),
                                                         p["architecture"].as<std::string>());
            }
          }
        }
      }
    }
    if (auto gc = root["gc"]) {
      HOIST_RETURN_IF_ERROR(CheckKeys(gc, path + ": gc", {"interval", "delete_untagged", "grace"}));
      HOIST_RETURN_IF_ERROR(
          ReadNumber(gc, "interval", path + ": gc", ParseDuration, &c->gc_interval_ms));
      HOIST_RETURN_IF_ERROR(ReadNumber(gc, "grace", path + ": gc", ParseDuration, &c->gc_grace_ms));
      if (gc["delete_untagged"]) c->gc_delete_untagged = gc["delete_untagged"].as<bool>();
    }
    if (auto scan = root["scan"]) {
      HOIST_RETURN_IF_ERROR(CheckKeys(scan, path + ": scan", {"db", "interval"}));
      if (scan["db"]) c->scan_db = scan["db"].as<std::string>();
      HOIST_RETURN_IF_ERROR(
          ReadNumber(scan, "interval", path + ": scan", ParseDuration, &c->scan_interval_ms));
    }
    if (auto auth = root["auth"]) {
      HOIST_RETURN_IF_ERROR(CheckKeys(auth, path + ": auth", {"htpasswd", "token"}));
      if (auto t = auth["token"]) {
        // distribution's auth.token keys, plus hoist's own issuer
        HOIST_RETURN_IF_ERROR(CheckKeys(
            t, path + ": auth.token",
            {"realm", "service", "issuer", "rootcertbundle", "signingkey", "expiration"}));
        if (t["realm"]) c->token.realm = t["realm"].as<std::string>();
        if (t["service"]) c->token.service = t["service"].as<std::string>();
        if (t["issuer"]) c->token.issuer = t["issuer"].as<std::string>();
        if (t["rootcertbundle"]) c->token.cert_bundle = t["rootcertbundle"].as<std::string>();
        if (t["signingkey"]) c->token.signing_key = t["signingkey"].as<std::string>();
        if (t["expiration"]) c->token.ttl_seconds = t["expiration"].as<int64_t>();
        if (c->token.ttl_seconds <= 0) {
          return Status(Code::kInvalidArgument, path + ": auth.token.expiration must be positive");
        }
      }
      if (auto h = auth["htpasswd"]) {
        HOIST_RETURN_IF_ERROR(CheckKeys(h, path + ": auth.htpasswd", {"path", "realm"}));
        if (h["path"]) c->htpasswd = h["path"].as<std::string>();
        if (h["realm"]) c->realm = h["realm"].as<std::string>();
      }
    }
    if (auto access = root["access"]) {
      HOIST_RETURN_IF_ERROR(CheckKeys(access, path + ": access", {"policy"}));
      if (access["policy"]) c->access_policy = access["policy"].as<std::string>();
    }
    if (auto http = root["http"]) {
      HOIST_RETURN_IF_ERROR(CheckKeys(http, path + ": http", {"addr", "tls", "allow_plain_http"}));
      if (http["addr"]) c->addr = http["addr"].as<std::string>();
      if (http["allow_plain_http"]) c->allow_plain_http = http["allow_plain_http"].as<bool>();
      if (auto tls = http["tls"]) {
        HOIST_RETURN_IF_ERROR(
            CheckKeys(tls, path + ": http.tls", {"certificate", "key", "clientca"}));
        if (tls["certificate"]) c->tls_cert = tls["certificate"].as<std::string>();
        if (tls["key"]) c->tls_key = tls["key"].as<std::string>();
        if (tls["clientca"]) c->tls_client_ca = tls["clientca"].as<std::string>();
      }
    }
    if (auto st = root["storage"]) {
      HOIST_RETURN_IF_ERROR(CheckKeys(st, path + ": storage", {"root", "delete", "s3"}));
      if (auto s3 = st["s3"]) {
        HOIST_RETURN_IF_ERROR(
            CheckKeys(s3, path + ": storage.s3",
                      {"regionendpoint", "bucket", "region", "rootdirectory", "forcepathstyle",
                       "accesskey", "secretkey", "cachettl", "blobcache", "blobcachesize"}));
        c->storage = "s3";
        if (s3["regionendpoint"]) c->s3.endpoint = s3["regionendpoint"].as<std::string>();
        if (s3["bucket"]) c->s3.bucket = s3["bucket"].as<std::string>();
        if (s3["region"]) c->s3.region = s3["region"].as<std::string>();
        if (s3["rootdirectory"]) c->s3.root_directory = s3["rootdirectory"].as<std::string>();
        if (s3["forcepathstyle"]) c->s3.path_style = s3["forcepathstyle"].as<bool>();
        if (s3["accesskey"]) c->s3.access_key = s3["accesskey"].as<std::string>();
        if (s3["secretkey"]) c->s3.secret_key = s3["secretkey"].as<std::string>();
        if (s3["blobcache"]) c->blob_cache_dir = s3["blobcache"].as<std::string>();
        const std::string where = path + ": storage.s3";
        HOIST_RETURN_IF_ERROR(
            ReadNumber(s3, "cachettl", where, ParseDuration, &c->storage_cache_ttl_ms));
        HOIST_RETURN_IF_ERROR(
            ReadNumber(s3, "blobcachesize", where, ParseSize, &c->blob_cache_bytes));
      }
      if (st["root"]) c->root = st["root"].as<std::string>();
      if (st["delete"]) c->delete_enabled = st["delete"].as<bool>();
    }
    if (auto lg = root["log"]) {
      HOIST_RETURN_IF_ERROR(CheckKeys(lg, path + ": log", {"level", "format", "accesslog"}));
      if (lg["level"] && !log::ParseLevel(lg["level"].as<std::string>(), &c->log_level)) {
        return Status(Code::kInvalidArgument, path + ": log.level must be debug|info|warn|error");
      }
      if (lg["format"] && !log::ParseFormat(lg["format"].as<std::string>(), &c->log_format)) {
        return Status(Code::kInvalidArgument, path + ": log.format must be text|json");
      }
      if (lg["accesslog"]) c->access_log = lg["accesslog"].as<bool>();
    }
    if (auto lim = root["limits"]) {
      HOIST_RETURN_IF_ERROR(
          CheckKeys(lim, path + ": limits", {"manifest_bytes", "uploads", "upload_idle_seconds"}));
      if (lim["manifest_bytes"]) c->max_manifest_bytes = lim["manifest_bytes"].as<int64_t>();
      if (lim["uploads"]) c->max_uploads = lim["uploads"].as<int64_t>();
      if (lim["upload_idle_seconds"])
        c->upload_idle_seconds = lim["upload_idle_seconds"].as<int64_t>();
      if (c->max_manifest_bytes <= 0 || c->max_uploads <= 0 || c->upload_idle_seconds <= 0) {
        return Status(Code::kInvalidArgument, path + ": limits must be positive");
      }
    }
  } catch (const YAML::Exception& e) {
    return Status(Code::kInvalidArgument, path + ": " + e.what());
  }
  return Status::Ok();
}

Result<int64_t> ParseSize(const std::string& text, const std::string& what) {
  auto bad = [&] {
    return Status(Code::kInvalidArgument,
                  what + ": \"" + text + "\" is not a size (e.g. 1073741824, 512MiB, 10GiB)");
  };
  const size_t digits = std::min(text.find_first_not_of("0123456789"), text.size());
  if (digits == 0 || digits > 15) return bad();
  const int64_t n = std::stoll(text.substr(0, digits));
  if (digits == text.size()) return n;
  std::string unit = text.substr(digits);
  const size_t at = std::string_view("KMGT").find(unit[0]);
  if (at == std::string_view::npos) return bad();
  const int shift = 10 * static_cast<int>(at + 1);
  if (unit.size() > 1 && unit.substr(1) != "iB" && unit.substr(1) != "B") return bad();
  if (n > (int64_t{1} << (62 - shift))) return bad();
  return n << shift;
}

Result<int64_t> ParseDuration(const std::string& text, const std::string& what) {
  auto bad = [&] {
    return Status(Code::kInvalidArgument,
                  what + ": \"" + text + "\" is not a duration (e.g. 500ms, 30s, 10m, 1h)");
  };
  if (text.empty()) return bad();
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 9) return bad();
    return std::stoll(text) * 1000;
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits = text.find_first_not_of("0123456789", i);
    if (digits == i || digits == std::string::npos || digits - i > 9) return bad();
    int64_t n = std::stoll(text.substr(i, digits - i));
    size_t unit_end = text.find_first_of("0123456789", digits);
    std::string unit =
        text.substr(digits, unit_end == std::string::npos ? std::string::npos : unit_end - digits);
    if (unit == "ms") {
      total += n;
    } else if (unit == "s") {
      total += n * 1000;
    } else if (unit == "m") {
      total += n * 60 * 1000;
    } else if (unit == "h") {
      total += n * 3600 * 1000;
    } else {
      return bad();
    }
    i = unit_end == std::string::npos ? text.size() : unit_end;
    if (total > int64_t{100} * 365 * 86400 * 1000) return bad();  // over a century: a typo
  }
  return total;
}

Status SplitHostPort(const std::string& addr, std::string* host, int* port) {
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    return Status(Code::kInvalidArgument, "address \"" + addr + "\" must be HOST:PORT");
  }
  *host = addr.substr(0, colon);
  std::string p = addr.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(p) > 65535) {
    return Status(Code::kInvalidArgument, "bad port in address \"" + addr + "\"");
  }
  *port = std::stoi(p);
  return Status::Ok();
}

Result<std::unique_ptr<storage::StorageDriver>> OpenStorage(const Config& cfg, std::string* where) {
  if (cfg.storage == "s3") {
    Result<std::unique_ptr<storage::StorageDriver>> d = storage::NewS3Driver(cfg.s3);
    if (!d.ok()) {
      return Status(d.status().code(), "cannot use the S3 storage: " + d.status().message());
    }
    if (where) *where = cfg.s3.endpoint + "/" + cfg.s3.bucket;
    storage::CacheOptions cache;
    cache.ttl_ms = cfg.storage_cache_ttl_ms;
    storage::BlobCacheOptions blobs;
    blobs.dir = cfg.blob_cache_dir;
    blobs.max_bytes = cfg.blob_cache_bytes;
    blobs.immutable = [](const std::string& p) { return storage::paths::IsBlobData(p); };
    blobs.staging = [](const std::string& p) { return storage::paths::IsUploadData(p); };
    return storage::NewBlobCacheDriver(storage::NewCachingDriver(std::move(*d), cache),
                                       std::move(blobs));
  }
  std::error_code ec;
  std::filesystem::create_directories(cfg.root, ec);
  if (ec) return Status(Code::kIo, "cannot create storage root " + cfg.root + ": " + ec.message());
  std::string root = std::filesystem::absolute(cfg.root).lexically_normal().string();
  if (where) *where = root;
  return storage::NewFilesystemDriver(root);
}

}  // namespace hoist::registry
