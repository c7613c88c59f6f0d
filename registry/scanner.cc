#include "registry/scanner.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <set>

#include "common/packages/image_files.h"

namespace hoist::registry {
namespace {

using nlohmann::json;

double NowUnix() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// The digests a manifest lists (an index's children, an image's layers).
std::vector<std::string> Listed(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || !j[key].is_array()) return out;
  for (const json& d : j[key]) {
    if (d.is_object() && d.value("digest", json()).is_string()) out.push_back(d["digest"]);
  }
  return out;
}

}  // namespace

const Scanner::Inventory& Scanner::InventoryOf(const std::string& repo, const StoredManifest& m) {
  auto it = inventories_.find(m.digest.str());
  if (it != inventories_.end()) return it->second;
  Inventory inv;
  json j = json::parse(m.content, nullptr, false);
  packages::ImageFiles files;
  for (const std::string& layer : Listed(j, "layers")) {
    Result<Digest> d = Digest::Parse(layer);
    Result<std::unique_ptr<storage::FileReader>> r =
        d.ok() ? blobs_.Open(repo, *d, 0)
               : Result<std::unique_ptr<storage::FileReader>>(d.status());
    Status st = r.ok() ? files.AddLayer(**r) : r.status();
    if (!st.ok()) {
      inv.error = "layer " + layer + ": " + st.message();
      break;
    }
  }
  if (inv.error.empty()) {
    Result<packages::Installed> installed = packages::ReadInstalled(files);
    if (installed.ok()) {
      inv.os = installed->os;
      inv.packages = std::move(installed->packages);
    } else {
      inv.error = installed.status().message();
    }
  }
  return inventories_.emplace(m.digest.str(), std::move(inv)).first->second;
}

Scanner::Report Scanner::Merge(const std::vector<const Inventory*>& parts,
                               const packages::OsvFeed& feed) const {
  Report r;
  std::set<std::pair<std::string, std::string>> seen;  // (id, package) across platforms
  for (const Inventory* inv : parts) {
    if (!inv->error.empty()) r.error = inv->error;
    if (r.os.empty() && !inv->os.id.empty()) r.os = inv->os.id + " " + inv->os.version_id;
    r.packages += static_cast<int>(inv->packages.size());
    for (packages::Finding& f : feed.Match(inv->packages, inv->os)) {
      if (seen.insert({f.id, f.package}).second) r.findings.push_back(std::move(f));
    }
  }
  return r;
}

Status Scanner::Run() {
  Result<packages::OsvFeed> feed = packages::OsvFeed::Load(feed_dir_);
  if (!feed.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    ++summary_.runs;
    ++summary_.failures;
    return feed.status();
  }
  Result<std::vector<std::string>> repos = manifests_.Repositories();
  if (!repos.ok()) return repos.status();
  std::map<std::string, Report> reports;
  std::vector<TagCounts> tags;
  std::set<std::string> images;
  for (const std::string& repo : *repos) {
    Result<std::vector<std::string>> tag_list = manifests_.Tags(repo);
    if (!tag_list.ok()) continue;  // gone meanwhile
    for (const std::string& tag : *tag_list) {
      Result<StoredManifest> top = manifests_.Get(repo, tag);
      if (!top.ok()) continue;
      std::vector<const Inventory*> parts;
      json j = json::parse(top->content, nullptr, false);
      if (j.is_object() && j.contains("manifests")) {
        for (const std::string& child : Listed(j, "manifests")) {
          Result<StoredManifest> m = manifests_.Get(repo, child);
          if (!m.ok() || m->content.find("\"layers\"") == std::string::npos) continue;
          parts.push_back(&InventoryOf(repo, *m));
          reports[repo + "@" + child] = Merge({parts.back()}, *feed);
          images.insert(child);
        }
      } else {
        parts.push_back(&InventoryOf(repo, *top));
        images.insert(top->digest.str());
      }
      Report r = Merge(parts, *feed);
      TagCounts c;
      c.repository = repo;
      c.tag = tag;
      for (const packages::Finding& f : r.findings) ++c.by_severity[static_cast<int>(f.severity)];
      tags.push_back(c);
      reports[repo + "@" + top->digest.str()] = std::move(r);
    }
  }
  // Forget what no tag reaches any more (deleted, collected).
  for (auto it = inventories_.begin(); it != inventories_.end();) {
    it = images.count(it->first) ? std::next(it) : inventories_.erase(it);
  }
  std::lock_guard<std::mutex> lock(mu_);
  reports_ = std::move(reports);
  ++summary_.runs;
  summary_.last_success_unix = NowUnix();
  summary_.images = static_cast<int>(images.size());
  summary_.tags = std::move(tags);
  return Status::Ok();
}

std::optional<Scanner::Report> Scanner::Find(const std::string& repo, const Digest& digest) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = reports_.find(repo + "@" + digest.str());
  if (it == reports_.end()) return std::nullopt;
  return it->second;
}

Scanner::Summary Scanner::Snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return summary_;
}

}  // namespace hoist::registry
