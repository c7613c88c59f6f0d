#include "registry/gc.h"

#include <ctime>
#include <nlohmann/json.hpp>
#include <set>

#include "registry/blob_store.h"
#include "registry/manifest_store.h"
#include "registry/storage/paths.h"
#include "registry/upload_store.h"

namespace hoist::registry {

namespace paths = storage::paths;
using json = nlohmann::json;

namespace {

// Adds the digests a manifest references (config, layers, children,
// subject is not a reference that keeps anything alive) to `marked`.
void MarkReferences(const std::string& content, std::set<std::string>* marked) {
  json j = json::parse(content, nullptr, false);
  if (!j.is_object()) return;
  auto mark = [&](const json& d) {
    if (d.is_object() && d.contains("digest") && d["digest"].is_string()) {
      marked->insert(d["digest"].get<std::string>());
    }
  };
  if (j.contains("config")) mark(j["config"]);
  for (const char* list : {"layers", "manifests", "blobs"}) {
    if (j.contains(list) && j[list].is_array()) {
      for (const json& d : j[list]) mark(d);
    }
  }
}

}  // namespace

Result<GcReport> CollectGarbage(storage::StorageDriver& d, const GcOptions& opt,
                                const std::function<void(const std::string&)>& on_delete) {
  GcReport report;
  const int64_t now = opt.now_unix ? opt.now_unix : static_cast<int64_t>(std::time(nullptr));
  BlobStore blobs(d);
  ManifestStore manifests(d, blobs);
  auto deleted = [&](const std::string& path) {
    if (on_delete) on_delete(path);
  };

  // Mark: every manifest revision of every repository, and what it names.
  Result<std::vector<std::string>> repos = manifests.Repositories();
  if (!repos.ok()) return repos.status();
  std::set<std::string> marked;
  for (const std::string& repo : *repos) {
    ++report.repositories;
    for (DigestAlgorithm alg : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
      Result<std::vector<std::string>> revs = d.List(paths::ManifestRevisionsDir(repo, alg));
      if (!revs.ok()) continue;
      for (const std::string& rev : *revs) {
        std::string s = std::string(AlgorithmName(alg)) + ":" + rev.substr(rev.rfind('/') + 1);
        Result<Digest> dg = Digest::Parse(s);
        if (!dg.ok() || !d.Stat(paths::ManifestRevisionLink(repo, *dg)).ok()) continue;
        ++report.manifests;
        marked.insert(dg->str());
        if (Result<std::string> c = blobs.GetSmall(*dg); c.ok()) MarkReferences(*c, &marked);
      }
    }
  }
  // Upload sessions idle past their age, in every repository (also those
  // whose first push has not put a manifest yet).
  UploadStore uploads(d, blobs);
  Result<UploadStore::Sweep> swept =
      uploads.ExpireIdle(opt.upload_max_age_sec, now, opt.dry_run, deleted);
  if (swept.ok()) report.uploads_deleted = swept->expired;
  report.blobs_marked = static_cast<int64_t>(marked.size());

  // Sweep: blobs/<alg>/<2 hex>/<hex>/data not marked and old enough.
  for (DigestAlgorithm alg : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    std::string alg_dir = paths::BlobsRoot() + "/" + std::string(AlgorithmName(alg));
    Result<std::vector<std::string>> prefixes = d.List(alg_dir);
    if (!prefixes.ok()) continue;
    for (const std::string& prefix : *prefixes) {
      Result<std::vector<std::string>> dirs = d.List(prefix);
      if (!dirs.ok()) continue;
      for (const std::string& dir : *dirs) {
        std::string s = std::string(AlgorithmName(alg)) + ":" + dir.substr(dir.rfind('/') + 1);
        Result<Digest> dg = Digest::Parse(s);
        if (!dg.ok() || marked.count(dg->str())) continue;
        Result<storage::FileInfo> fi = d.Stat(paths::BlobData(*dg));
        if (fi.ok() && now - fi->mtime_unix < opt.min_age_sec) {
          ++report.blobs_kept_young;
          continue;
        }
        ++report.blobs_deleted;
        if (fi.ok()) report.bytes_freed += fi->size;
        deleted(dir);
        if (!opt.dry_run) {
          Status st = d.Delete(dir);
          if (!st.ok() && st.code() != Code::kNotFound) return st;
        }
      }
    }
  }
  return report;
}

}  // namespace hoist::registry

#include <cstdio>
#include <filesystem>

namespace hoist::registry {

int RunGc(const std::string& root, const GcOptions& options, bool as_json) {
  if (!std::filesystem::is_directory(root + "/docker/registry/v2")) {
    std::fprintf(stderr, "hoist registry gc: %s is not a registry root\n", root.c_str());
    return 1;
  }
  auto driver = storage::NewFilesystemDriver(root);
  const char* verb = options.dry_run ? "would delete" : "deleted";
  Result<GcReport> r = CollectGarbage(*driver, options, [&](const std::string& path) {
    if (!as_json) std::printf("%s %s\n", verb, path.c_str());
  });
  if (!r.ok()) {
    std::fprintf(stderr, "hoist registry gc: %s\n", r.status().ToString().c_str());
    return 1;
  }
  if (as_json) {
    json j = {{"repositories", r->repositories},       {"manifests", r->manifests},
              {"blobs_marked", r->blobs_marked},       {"blobs_deleted", r->blobs_deleted},
              {"bytes_freed", r->bytes_freed},         {"blobs_kept_young", r->blobs_kept_young},
              {"uploads_deleted", r->uploads_deleted}, {"dry_run", options.dry_run}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "%lld repositories, %lld manifests, %lld blobs in use; %s %lld blobs (%lld bytes), "
        "%lld upload sessions; kept %lld recent unreferenced blobs\n",
        static_cast<long long>(r->repositories), static_cast<long long>(r->manifests),
        static_cast<long long>(r->blobs_marked), verb, static_cast<long long>(r->blobs_deleted),
        static_cast<long long>(r->bytes_freed), static_cast<long long>(r->uploads_deleted),
        static_cast<long long>(r->blobs_kept_young));
  }
  return 0;
}

}  // namespace hoist::registry
