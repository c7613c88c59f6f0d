#include "builder/dockerapi/local_images.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <set>

#include "common/media_types.h"

namespace hoist::dockerapi {
namespace {

using nlohmann::json;
using transfer::Descriptor;

constexpr size_t kMaxConfigBytes = size_t{8} << 20;

// RFC 3339 ("2024-05-01T10:20:30.123Z", "...+02:00") -> unix seconds; 0
// when it does not parse (docker shows such images as created long ago).
int64_t ParseCreated(const std::string& s) {
  std::tm tm{};
  const char* rest = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr) return 0;
  int64_t t = static_cast<int64_t>(::timegm(&tm));
  while (*rest == '.' || (*rest >= '0' && *rest <= '9')) ++rest;  // fractions
  if ((*rest == '+' || *rest == '-') && std::strlen(rest) >= 6) {
    int off = ((rest[1] - '0') * 10 + (rest[2] - '0')) * 3600 +
              ((rest[4] - '0') * 10 + (rest[5] - '0')) * 60;
    t += *rest == '+' ? -off : off;
  }
  return t;
}

bool IsHex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string RepoOf(const std::string& normalised) {
  Result<Reference> r = Reference::Parse(normalised);
  return r.ok() ? r->Name() : normalised;
}

Status NoSuchImage(const std::string& what) {
  return Status(Code::kNotFound, "No such image: " + what);
}

}  // namespace

std::string Familiar(const std::string& normalised) {
  Result<Reference> r = Reference::Parse(normalised);
  return r.ok() ? r->Familiar() : normalised;
}

Result<LocalImage> LocalImages::Load(const Descriptor& top) const {
  LocalImage img;
  img.top = top;
  Result<std::string> bytes = engine::ReadSmallBlob(store_, top.digest);
  if (!bytes.ok()) return bytes.status();
  Result<transfer::Manifest> m = transfer::MakeManifest(top.media_type, std::move(*bytes));
  if (!m.ok()) return m.status();
  Result<transfer::ManifestContents> c = transfer::ParseManifest(*m);
  if (!c.ok()) return c.status();
  img.manifest = top;
  if (!c->children.empty()) {
    Result<Descriptor> pick = transfer::SelectPlatform(*m, *c, platform_);
    if (!pick.ok()) {
      // An index without the engine's platform: its first image stands in.
      pick = c->children.front();
    }
    img.manifest = *pick;
    bytes = engine::ReadSmallBlob(store_, pick->digest);
    if (!bytes.ok()) return bytes.status();
    m = transfer::MakeManifest(pick->media_type, std::move(*bytes));
    if (!m.ok()) return m.status();
    c = transfer::ParseManifest(*m);
    if (!c.ok()) return c.status();
  }
  if (!c->config) {
    return Status(Code::kManifestInvalid, top.digest.str() + " is not an image manifest");
  }
  img.manifest_bytes = *m;
  img.id = c->config->digest;
  img.layers = c->layers;
  Result<std::string> config = engine::ReadSmallBlob(store_, img.id, kMaxConfigBytes);
  if (!config.ok()) return config.status();
  img.config = json::parse(*config, nullptr, false);
  if (!img.config.is_object()) {
    return Status(Code::kManifestInvalid, "config " + img.id.str() + " is not a JSON object");
  }
  img.created = ParseCreated(img.config.value("created", ""));
  for (const Descriptor& l : img.layers) {
    Result<store::LayerInfo> info = store_.GetLayerInfo(l.digest);
    img.size += info.ok() && info->tar_size > 0 ? static_cast<int64_t>(info->tar_size) : l.size;
  }
  return img;
}

Result<std::vector<LocalImage>> LocalImages::List() const {
  Result<engine::ImageIndexContents> c = index_.Read();
  if (!c.ok()) return c.status();
  // Names grouped by the image they point at.
  std::map<std::string, std::pair<Descriptor, std::vector<std::string>>> by_top;
  for (const auto& [name, d] : c->names) {
    auto& e = by_top[d.digest.str()];
    e.first = d;
    e.second.push_back(name);
  }
  for (const auto& [digest, d] : c->untagged) {
    if (by_top.count(digest) == 0) by_top[digest].first = d;
  }
  std::vector<LocalImage> out;
  for (auto& [digest, e] : by_top) {
    Result<LocalImage> img = Load(e.first);
    if (!img.ok()) continue;  // blobs pruned from under a name: not an image any more
    img->names = e.second;
    auto rd = c->repo_digests.find(digest);
    if (rd != c->repo_digests.end()) {
      for (const std::string& r : rd->second) img->repo_digests.push_back(Familiar(r));
    }
    out.push_back(std::move(*img));
  }
  return out;
}

Result<LocalImage> LocalImages::Find(const std::string& what) const {
  Result<std::vector<LocalImage>> all = List();
  if (!all.ok()) return all.status();
  // A full ID or digest first: "sha256:<hex>" or 64 hex digits.
  std::string hex = what.rfind("sha256:", 0) == 0 ? what.substr(7) : what;
  if (hex.size() == 64 && IsHex(hex)) {
    for (const LocalImage& i : *all) {
      if (i.id.hex() == hex || i.top.digest.hex() == hex || i.manifest.digest.hex() == hex) {
        return i;
      }
    }
  }
  // A name, with a tag (default latest) or a digest.
  Result<Reference> ref = Reference::Parse(what);
  if (ref.ok()) {
    for (const LocalImage& i : *all) {
      for (const std::string& n : i.names) {
        if (n == ref->String()) return i;
      }
      if (ref->digest() &&
          (i.top.digest == *ref->digest() || i.manifest.digest == *ref->digest())) {
        for (const std::string& n : i.names) {
          if (RepoOf(n) == ref->Name()) return i;
        }
        for (const std::string& r : i.repo_digests) {
          if (r.find('@') != std::string::npos &&
              RepoOf(r.substr(0, r.find('@')) + ":latest") == ref->Name()) {
            return i;
          }
        }
      }
    }
  }
  // A unique prefix of an ID (docker's short IDs).
  std::string prefix = what.rfind("sha256:", 0) == 0 ? what.substr(7) : what;
  if (IsHex(prefix) && prefix.size() < 64) {
    const LocalImage* hit = nullptr;
    for (const LocalImage& i : *all) {
      if (i.id.hex().rfind(prefix, 0) != 0) continue;
      if (hit != nullptr && !(hit->id == i.id)) {
        return Status(Code::kInvalidArgument, "ambiguous image ID prefix " + what);
      }
      hit = &i;
    }
    if (hit != nullptr) return *hit;
  }
  return NoSuchImage(what);
}

Status LocalImages::Tag(const Reference& ref, const Descriptor& top) {
  return index_.Update([&](engine::ImageIndexContents& c) {
    const std::string name = ref.String();
    auto old = c.names.find(name);
    std::optional<Descriptor> before;
    if (old != c.names.end() && !(old->second.digest == top.digest)) before = old->second;
    c.names[name] = top;
    c.untagged.erase(top.digest.str());
    if (before) {
      bool named = std::any_of(c.names.begin(), c.names.end(),
                               [&](const auto& e) { return e.second.digest == before->digest; });
      if (!named) c.untagged[before->digest.str()] = *before;
    }
    return Status::Ok();
  });
}

Status LocalImages::KeepUntagged(const Descriptor& top) {
  return index_.Update([&](engine::ImageIndexContents& c) {
    for (const auto& [n, d] : c.names) {
      if (d.digest == top.digest) return Status::Ok();
    }
    c.untagged[top.digest.str()] = top;
    return Status::Ok();
  });
}

Status LocalImages::AddRepoDigest(const Descriptor& top, const Reference& repo) {
  return index_.Update([&](engine::ImageIndexContents& c) {
    c.repo_digests[top.digest.str()].insert(repo.WithoutTagOrDigest().Name() + "@" +
                                            top.digest.str());
    return Status::Ok();
  });
}

Result<std::vector<DeleteEvent>> LocalImages::Remove(const std::string& what, bool force) {
  Result<LocalImage> img = Find(what);
  if (!img.ok()) return img.status();
  std::vector<DeleteEvent> events;
  // By name: that name goes; the image goes with its last name.
  Result<Reference> ref = Reference::Parse(what);
  bool by_name = ref.ok() &&
                 std::find(img->names.begin(), img->names.end(), ref->String()) != img->names.end();
  std::set<std::string> repos;
  for (const std::string& n : img->names) repos.insert(RepoOf(n));
  if (!by_name && repos.size() > 1 && !force) {
    return Status(Code::kConflict, "conflict: unable to delete " + img->ShortId() +
                                       " (must be forced) - image is referenced in "
                                       "multiple repositories");
  }
  Status st = index_.Update([&](engine::ImageIndexContents& c) {
    events.clear();
    std::vector<std::string> drop = by_name ? std::vector<std::string>{ref->String()} : img->names;
    for (const std::string& n : drop) {
      if (c.names.erase(n) > 0) events.push_back({false, Familiar(n)});
    }
    bool named = std::any_of(c.names.begin(), c.names.end(),
                             [&](const auto& e) { return e.second.digest == img->top.digest; });
    if (!named) {
      c.untagged.erase(img->top.digest.str());
      auto rd = c.repo_digests.find(img->top.digest.str());
      if (rd != c.repo_digests.end()) {
        for (const std::string& r : rd->second) events.push_back({false, Familiar(r)});
        c.repo_digests.erase(rd);
      }
      events.push_back({true, img->id.str()});
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return events;
}

Result<std::vector<std::string>> LocalImages::PruneUntagged(bool all) {
  std::vector<std::string> ids;
  Status st = index_.Update([&](engine::ImageIndexContents& c) {
    ids.clear();
    std::map<std::string, Descriptor> gone(c.untagged.begin(), c.untagged.end());
    if (all) {
      // No container ever uses an image here: every image is unused.
      for (const auto& [n, d] : c.names) gone.emplace(d.digest.str(), d);
      c.names.clear();
    }
    for (const auto& [digest, d] : gone) {
      Result<LocalImage> img = Load(d);
      ids.push_back(img.ok() ? img->id.str() : digest);
      c.untagged.erase(digest);
      c.repo_digests.erase(digest);
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return ids;
}

}  // namespace hoist::dockerapi
