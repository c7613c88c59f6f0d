#include "registry/gc.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "registry/blob_store.h"
#include "registry/config.h"
#include "registry/manifest_store.h"
#include "registry/storage/paths.h"
#include "registry/upload_store.h"

namespace hoist::registry {

namespace paths = storage::paths;
using json = nlohmann::json;

namespace {

// What a manifest names: blobs and child manifests it keeps alive, and its
// subject (which keeps nothing alive, but a kept subject keeps its
// referrers under delete_untagged).
struct Names {
  std::vector<std::string> refs;      // config, layers, blobs, children
  std::vector<std::string> children;  // an index's manifests
  std::string subject;
};

Names ParseNames(const std::string& content) {
  Names n;
  json j = json::parse(content, nullptr, false);
  if (!j.is_object()) return n;
  auto digest_of = [](const json& d) -> std::string {
    if (d.is_object() && d.contains("digest") && d["digest"].is_string()) {
      return d["digest"].get<std::string>();
    }
    return "";
  };
  if (j.contains("config")) n.refs.push_back(digest_of(j["config"]));
  for (const char* list : {"layers", "manifests", "blobs"}) {
    if (!j.contains(list) || !j[list].is_array()) continue;
    for (const json& d : j[list]) {
      n.refs.push_back(digest_of(d));
      if (std::string(list) == "manifests") n.children.push_back(n.refs.back());
    }
  }
  if (j.contains("subject")) n.subject = digest_of(j["subject"]);
  std::erase(n.refs, "");
  std::erase(n.children, "");
  return n;
}

struct Run {
  storage::StorageDriver& d;
  BlobStore& blobs;
  const GcOptions& opt;
  const std::function<void(const std::string&)>& deleted;
  int64_t since;  // uses at or after this keep a candidate
  GcReport report;

  // Runs `remove` unless a request uses `key`; true when removed (or, on a
  // dry run, when it would be).
  Result<bool> Remove(const std::string& key, const std::string& path,
                      const std::function<Status()>& remove) {
    Result<bool> r = blobs.RemoveIfUnused(key, since, [&] {
      deleted(path);
      return opt.dry_run ? Status::Ok() : remove();
    });
    if (r.ok() && !*r) ++report.kept_in_use;
    return r;
  }

  // delete_untagged for one repository: keeps what a tag reaches (through
  // indexes), the referrers of what is kept, and what requests use; removes
  // the rest, indexes before the manifests they list and subjects before
  // their referrers, so a use found late still keeps a whole image.
  // Returns the revisions removed.
  Result<std::set<std::string>> RemoveUntagged(ManifestStore& manifests, const std::string& repo,
                                               const std::vector<Digest>& revisions, int64_t now) {
    std::map<std::string, Names> names;
    std::map<std::string, std::vector<std::string>> referrers;  // subject -> referrers
    std::set<std::string> kept;
    auto keep = [&](const std::string& root) {
      std::vector<std::string> todo{root};
      while (!todo.empty()) {
        std::string m = todo.back();
        todo.pop_back();
        if (!names.count(m) || !kept.insert(m).second) continue;
        for (const std::string& c : names[m].children) todo.push_back(c);
        for (const std::string& r : referrers[m]) todo.push_back(r);
      }
    };
    // What cannot be read is kept, with what it names: deleting on a
    // failed read would take what a tag still reaches.
    std::vector<std::string> unreadable;
    for (const Digest& dg : revisions) {
      Result<std::string> c = blobs.GetSmall(dg);
      names[dg.str()] = c.ok() ? ParseNames(*c) : Names{};
      if (!c.ok()) unreadable.push_back(dg.str());
      if (!names[dg.str()].subject.empty()) referrers[names[dg.str()].subject].push_back(dg.str());
    }
    for (const std::string& m : unreadable) keep(m);
    // A manifest put less than min_age ago may be a child whose index is
    // still on its way (another process cannot see that push's uses).
    for (const Digest& dg : revisions) {
      Result<storage::FileInfo> fi = d.Stat(paths::ManifestRevisionLink(repo, dg));
      if (fi.ok() && now - fi->mtime_unix < opt.min_age_sec) keep(dg.str());
    }
    Result<std::vector<std::string>> tags = manifests.Tags(repo);
    if (!tags.ok() && tags.status().code() != Code::kNameUnknown) return tags.status();
    for (const std::string& tag : tags.ok() ? *tags : std::vector<std::string>{}) {
      Result<std::string> link = d.GetContent(paths::TagCurrentLink(repo, tag));
      if (!link.ok()) {
        if (link.status().code() == Code::kNotFound) continue;  // deleted meanwhile
        return link.status();
      }
      if (Result<Digest> dg = paths::ParseLink(*link); dg.ok()) keep(dg->str());
    }
    auto rank = [&](const std::string& m) {
      const Names& n = names[m];
      return !n.children.empty() ? 0 : n.subject.empty() ? 1 : 2;
    };
    std::vector<std::string> candidates;
    for (const auto& [m, n] : names) {
      if (!kept.count(m)) candidates.push_back(m);
    }
    std::stable_sort(candidates.begin(), candidates.end(),
                     [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
    std::set<std::string> removed;
    for (const std::string& m : candidates) {
      if (kept.count(m)) continue;  // listed by an index kept since
      const std::string& subject = names[m].subject;
      if (!subject.empty() && kept.count(subject)) {
        keep(m);
        continue;
      }
      Digest dg = *Digest::Parse(m);
      // Under the use mutex: only the manifest's own links (no tag scan,
      // none names it), so requests wait as little as possible.
      Result<bool> r = Remove(m, paths::ManifestRevisionLink(repo, dg),
                              [&] { return manifests.DeleteRevision(repo, dg); });
      if (!r.ok()) return r.status();
      if (*r) {
        removed.insert(m);
        ++report.manifests_deleted;
      } else {
        keep(m);
      }
    }
    return removed;
  }

  // Blobs linked into a repository that has an upload session open: a push
  // in progress whose manifest has not come yet, however long its other
  // layers take to upload.
  void MarkPushInProgress(const std::string& repo, std::set<std::string>* marked) {
    Result<std::vector<std::string>> sessions = d.List(paths::UploadsDir(repo));
    if (!sessions.ok() || sessions->empty()) return;
    for (DigestAlgorithm alg : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
      std::string dir = paths::Repository(repo) + "/_layers/" + std::string(AlgorithmName(alg));
      Result<std::vector<std::string>> links = d.List(dir);
      if (!links.ok()) continue;
      for (const std::string& l : *links) {
        std::string s = std::string(AlgorithmName(alg)) + ":" + l.substr(l.rfind('/') + 1);
        if (Digest::Parse(s).ok()) marked->insert(s);
      }
    }
  }

  Status Collect() {
    const int64_t now = opt.now_unix ? opt.now_unix : static_cast<int64_t>(std::time(nullptr));
    ManifestStore manifests(d, blobs);

    // Mark: every manifest revision of every repository, and what it names.
    Result<std::vector<std::string>> repos = manifests.Repositories();
    if (!repos.ok()) return repos.status();
    std::set<std::string> marked;
    for (const std::string& repo : *repos) {
      ++report.repositories;
      std::vector<Digest> revisions = manifests.Revisions(repo);
      std::set<std::string> removed;
      if (opt.delete_untagged) {
        Result<std::set<std::string>> r = RemoveUntagged(manifests, repo, revisions, now);
        if (!r.ok()) return r.status();
        removed = std::move(*r);
      }
      for (const Digest& dg : revisions) {
        if (removed.count(dg.str())) continue;
        ++report.manifests;
        marked.insert(dg.str());
        if (Result<std::string> c = blobs.GetSmall(dg); c.ok()) {
          for (std::string& ref : ParseNames(*c).refs) marked.insert(std::move(ref));
        }
      }
    }
    // Pushes in progress, also into repositories with no manifest yet.
    storage::ForEachRepositoryInternal(
        d, [&](const std::string& repo, const std::string&, const std::string& name) {
          if (name == "_uploads") MarkPushInProgress(repo, &marked);
        });
    // Upload sessions idle past their age, in every repository (also those
    // whose first push has not put a manifest yet).
    UploadStore uploads(d, blobs);
    Result<UploadStore::Sweep> swept =
        uploads.ExpireIdle(opt.upload_max_age_sec, now, opt.dry_run, deleted);
    if (swept.ok()) report.uploads_deleted = swept->expired;
    report.blobs_marked = static_cast<int64_t>(marked.size());

    // Sweep: blobs/<alg>/<2 hex>/<hex>/data not marked, old enough, unused.
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
          Result<bool> r = Remove(dg->str(), dir, [&] {
            Status st = d.Delete(dir);
            return st.code() == Code::kNotFound ? Status::Ok() : st;
          });
          if (!r.ok()) return r.status();
          if (!*r) continue;
          ++report.blobs_deleted;
          if (fi.ok()) report.bytes_freed += fi->size;
        }
      }
    }
    return Status::Ok();
  }
};

}  // namespace

Result<GcReport> CollectGarbage(storage::StorageDriver& d, BlobStore& blobs, const GcOptions& opt,
                                const std::function<void(const std::string&)>& on_delete) {
  auto started = std::chrono::steady_clock::now();
  std::function<void(const std::string&)> deleted = [&](const std::string& path) {
    if (on_delete) on_delete(path);
  };
  // (a grace beyond a year is a year: no overflow of the nanoseconds)
  const int64_t grace_ns =
      std::min<int64_t>(opt.use_grace_ms, int64_t{366} * 86400 * 1000) * 1000000;
  const int64_t since = BlobStore::Now() - grace_ns;
  Run run{d, blobs, opt, deleted, since, {}};
  HOIST_RETURN_IF_ERROR(run.Collect());
  blobs.ForgetUsesBefore(since);
  run.report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return run.report;
}

Result<GcReport> CollectGarbage(storage::StorageDriver& d, const GcOptions& opt,
                                const std::function<void(const std::string&)>& on_delete) {
  BlobStore blobs(d);
  return CollectGarbage(d, blobs, opt, on_delete);
}

}  // namespace hoist::registry

#include <cstdio>
#include <filesystem>

namespace hoist::registry {

int RunGc(const Config& cfg, const GcOptions& options, bool as_json) {
  if (cfg.storage != "s3" && !std::filesystem::is_directory(cfg.root + "/docker/registry/v2")) {
    std::fprintf(stderr, "hoist registry gc: %s is not a registry root\n", cfg.root.c_str());
    return 1;
  }
  Result<std::unique_ptr<storage::StorageDriver>> driver = OpenStorage(cfg);
  if (!driver.ok()) {
    std::fprintf(stderr, "hoist registry gc: %s\n", driver.status().message().c_str());
    return 1;
  }
  const char* verb = options.dry_run ? "would delete" : "deleted";
  Result<GcReport> r = CollectGarbage(**driver, options, [&](const std::string& path) {
    if (!as_json) std::printf("%s %s\n", verb, path.c_str());
  });
  if (!r.ok()) {
    std::fprintf(stderr, "hoist registry gc: %s\n", r.status().ToString().c_str());
    return 1;
  }
  if (as_json) {
    json j = {{"repositories", r->repositories},
              {"manifests", r->manifests},
              {"blobs_marked", r->blobs_marked},
              {"blobs_deleted", r->blobs_deleted},
              {"bytes_freed", r->bytes_freed},
              {"blobs_kept_young", r->blobs_kept_young},
              {"uploads_deleted", r->uploads_deleted},
              {"dry_run", options.dry_run},
              {"manifests_deleted", r->manifests_deleted}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf(
        "%lld repositories, %lld manifests, %lld blobs in use; %s %lld blobs (%lld bytes), "
        "%lld untagged manifests, %lld upload sessions; kept %lld recent unreferenced blobs\n",
        static_cast<long long>(r->repositories), static_cast<long long>(r->manifests),
        static_cast<long long>(r->blobs_marked), verb, static_cast<long long>(r->blobs_deleted),
        static_cast<long long>(r->bytes_freed), static_cast<long long>(r->manifests_deleted),
        static_cast<long long>(r->uploads_deleted), static_cast<long long>(r->blobs_kept_young));
  }
  return 0;
}

}  // namespace hoist::registry
