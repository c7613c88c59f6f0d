#include "registry/manifest_store.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/media_types.h"
#include "common/names.h"
#include "registry/storage/paths.h"

namespace hoist::registry {

namespace paths = storage::paths;
using json = nlohmann::json;

namespace {

Status Invalid(const std::string& why) {
  return Status(Code::kManifestInvalid, why);
}

Status UnknownManifest(std::string_view reference) {
  return Status(Code::kManifestUnknown, "manifest unknown: " + std::string(reference));
}

bool IsDigestReference(std::string_view reference) {
  return reference.find(':') != std::string_view::npos;
}

// Checks a descriptor (image-spec "Descriptors") and returns its digest.
Result<Digest> CheckDescriptor(const json& d, const char* where) {
  if (!d.is_object()) return Invalid(std::string(where) + ": descriptor must be an object");
  auto mt = d.find("mediaType");
  if (mt == d.end() || !mt->is_string() || mt->get_ref<const std::string&>().empty()) {
    return Invalid(std::string(where) + ": descriptor needs a mediaType");
  }
  auto size = d.find("size");
  if (size == d.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return Invalid(std::string(where) + ": descriptor needs a size");
  }
  auto dg = d.find("digest");
  if (dg == d.end() || !dg->is_string()) {
    return Invalid(std::string(where) + ": descriptor needs a digest");
  }
  Result<Digest> digest = Digest::Parse(dg->get_ref<const std::string&>());
  if (!digest.ok()) {
    return Invalid(std::string(where) + ": " + digest.status().message());
  }
  return digest;
}

Status BlobUnknown(const Digest& d, const char* what) {
  return Status(Code::kManifestBlobUnknown,
                std::string(what) + " " + d.str() + " is unknown to the repository",
                json{{"digest", d.str()}}.dump());
}

std::string StripParams(std::string_view ct) {
  size_t semi = ct.find(';');
  std::string_view t = ct.substr(0, semi);
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return std::string(t);
}

}  // namespace

std::string ManifestStore::MediaTypeOf(std::string_view content) {
  json j = json::parse(content, nullptr, false);
  if (!j.is_object()) return "";
  auto mt = j.find("mediaType");
  if (mt != j.end() && mt->is_string()) return mt->get<std::string>();
  if (j.contains("manifests")) return std::string(media::kOciIndex);
  if (j.contains("config")) return std::string(media::kOciManifest);
  return "";
}

Result<Digest> ManifestStore::Resolve(std::string_view repo, std::string_view reference) {
  if (IsDigestReference(reference)) {
    Result<Digest> d = Digest::Parse(reference);
    if (!d.ok()) return d.status();
    Result<std::string> link = d_.GetContent(paths::ManifestRevisionLink(repo, *d));
    if (!link.ok()) {
      if (link.status().code() == Code::kNotFound) return UnknownManifest(reference);
      return link.status();
    }
    return d;
  }
  if (!IsValidTag(reference)) return UnknownManifest(reference);
  Result<std::string> link = d_.GetContent(paths::TagCurrentLink(repo, reference));
  if (!link.ok()) {
    if (link.status().code() == Code::kNotFound) return UnknownManifest(reference);
    return link.status();
  }
  Result<Digest> d = paths::ParseLink(*link);
  if (!d.ok()) return Status(Code::kInternal, "corrupt tag link for " + std::string(reference));
  return d;
}

Result<StoredManifest> ManifestStore::Get(std::string_view repo, std::string_view reference) {
  Result<Digest> d = Resolve(repo, reference);
  if (!d.ok()) return d.status();
  Result<std::string> content = blobs_.GetSmall(*d);
  if (!content.ok()) {
    if (content.status().code() == Code::kBlobUnknown) return UnknownManifest(reference);
    return content.status();
  }
  StoredManifest m;
  m.digest = *d;
  m.media_type = MediaTypeOf(*content);
  m.content = std::move(*content);
  return m;
}

bool ManifestStore::MustHaveChild(const nlohmann::json& descriptor) const {
  switch (reference_policy_.children) {
    case ReferencePolicy::Children::kAll:
      return true;
    case ReferencePolicy::Children::kNone:
      return false;
    case ReferencePolicy::Children::kListed:
      break;
  }
  auto p = descriptor.find("platform");
  if (p == descriptor.end() || !p->is_object()) return false;
  std::string os = p->value("os", ""), arch = p->value("architecture", "");
  for (const auto& [want_os, want_arch] : reference_policy_.platforms) {
    if (want_os == os && want_arch == arch) return true;
  }
  return false;
}

Status ManifestStore::Validate(std::string_view repo, std::string_view content_type,
                               const std::string& content, BlobStore::Use& use,
                               std::string* media_type, std::optional<Digest>* subject) {
  json j = json::parse(content, nullptr, false);
  if (j.is_discarded()) return Invalid("manifest is not valid JSON");
  if (!j.is_object()) return Invalid("manifest must be a JSON object");
  auto sv = j.find("schemaVersion");
  if (sv == j.end() || !sv->is_number_integer() || sv->get<int>() != 2) {
    return Invalid("schemaVersion must be 2");
  }
  std::string declared;
  if (auto mt = j.find("mediaType"); mt != j.end()) {
    if (!mt->is_string()) return Invalid("mediaType must be a string");
    declared = mt->get<std::string>();
  }
  std::string ct = StripParams(content_type);
  if (ct == "application/json" || ct == "application/octet-stream") ct.clear();
  if (!ct.empty() && !declared.empty() && ct != declared) {
    return Invalid("Content-Type " + ct + " does not match the manifest's mediaType " + declared);
  }
  std::string type = !ct.empty() ? ct : !declared.empty() ? declared : MediaTypeOf(content);
  if (!media::IsManifestType(type)) {
    return Invalid("unsupported manifest media type \"" + type + "\"");
  }
  *media_type = type;

  if (media::IsIndexType(type)) {
    auto ms = j.find("manifests");
    if (ms == j.end() || !ms->is_array()) return Invalid("an index needs a manifests array");
    if (j.contains("config") || j.contains("layers")) {
      return Invalid("an index must not have config or layers");
    }
    for (const json& m : *ms) {
      Result<Digest> d = CheckDescriptor(m, "manifests[]");
      if (!d.ok()) return d.status();
      use.Add(*d);  // pinned even when it need not exist: a sweep must not take it now
      if (!MustHaveChild(m)) continue;
      if (!d_.Stat(paths::ManifestRevisionLink(repo, *d)).ok()) {
        return BlobUnknown(*d, "manifest");
      }
    }
  } else {
    auto cfg = j.find("config");
    if (cfg == j.end()) return Invalid("an image manifest needs a config descriptor");
    if (j.contains("manifests")) return Invalid("an image manifest must not have manifests");
    Result<Digest> cd = CheckDescriptor(*cfg, "config");
    if (!cd.ok()) return cd.status();
    use.Add(*cd);
    if (reference_policy_.blobs_required && !blobs_.Stat(repo, *cd).ok())
      return BlobUnknown(*cd, "config blob");
    auto layers = j.find("layers");
    if (layers != j.end()) {
      if (!layers->is_array()) return Invalid("layers must be an array");
      for (const json& l : *layers) {
        Result<Digest> ld = CheckDescriptor(l, "layers[]");
        if (!ld.ok()) return ld.status();
        // Non-distributable layers (with urls) live elsewhere by design.
        if (l.contains("urls")) continue;
        use.Add(*ld);
        if (reference_policy_.blobs_required && !blobs_.Stat(repo, *ld).ok())
          return BlobUnknown(*ld, "layer blob");
      }
    } else if (type == media::kDockerManifest) {
      return Invalid("a Docker manifest needs a layers array");
    }
  }
  if (auto at = j.find("artifactType"); at != j.end() && !at->is_string()) {
    return Invalid("artifactType must be a string");
  }
  if (auto s = j.find("subject"); s != j.end()) {
    Result<Digest> sd = CheckDescriptor(*s, "subject");
    if (!sd.ok()) return sd.status();
    *subject = *sd;
  }
  return Status::Ok();
}

Result<PutManifestResult> ManifestStore::Put(std::string_view repo, std::string_view reference,
                                             std::string_view content_type,
                                             const std::string& content,
                                             const std::vector<std::string>& extra_tags) {
  PutManifestResult out;
  std::vector<std::string> tags;
  if (IsDigestReference(reference)) {
    Result<Digest> want = Digest::Parse(reference);
    if (!want.ok()) return want.status();
    Digest got = DigestOf(content, want->algorithm());
    if (got != *want) {
      return Status(Code::kDigestInvalid,
                    "manifest digest is " + got.str() + ", not " + want->str(),
                    json{{"digest", want->str()}}.dump());
    }
    out.digest = got;
  } else {
    if (!IsValidTag(reference)) {
      return Invalid("invalid tag \"" + std::string(reference.substr(0, 200)) + "\"");
    }
    tags.emplace_back(reference);
    out.digest = DigestOf(content);
  }
  for (const std::string& t : extra_tags) {
    if (!IsValidTag(t)) return Invalid("invalid tag \"" + t.substr(0, 200) + "\"");
    if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(t);
  }
  // Held until the links below are written: a sweep that started before
  // may not have seen this manifest, so it must not take what it names.
  BlobStore::Use use(blobs_);
  use.Add(out.digest);
  std::string media_type;
  HOIST_RETURN_IF_ERROR(Validate(repo, content_type, content, use, &media_type, &out.subject));

  HOIST_RETURN_IF_ERROR(Store(repo, out.digest, content, out.subject, tags));
  out.tags = std::move(tags);
  return out;
}

Status ManifestStore::Store(std::string_view repo, const Digest& digest, const std::string& content,
                            const std::optional<Digest>& subject,
                            const std::vector<std::string>& tags) {
  // Order matters for readers and crashes: bytes, then the revision link
  // that makes them visible, then the tags that name them.
  HOIST_RETURN_IF_ERROR(blobs_.PutSmall(digest, content));
  HOIST_RETURN_IF_ERROR(d_.PutContent(paths::ManifestRevisionLink(repo, digest), digest.str()));
  if (subject) {
    HOIST_RETURN_IF_ERROR(d_.PutContent(paths::ReferrerLink(repo, *subject, digest), digest.str()));
  }
  for (const std::string& t : tags) {
    HOIST_RETURN_IF_ERROR(d_.PutContent(paths::TagIndexLink(repo, t, digest), digest.str()));
    HOIST_RETURN_IF_ERROR(d_.PutContent(paths::TagCurrentLink(repo, t), digest.str()));
  }
  return Status::Ok();
}

Status ManifestStore::PutMirrored(std::string_view repo, std::string_view tag, const Digest& digest,
                                  const std::string& content) {
  if (!tag.empty() && !IsValidTag(tag)) {
    return Invalid("invalid tag \"" + std::string(tag.substr(0, 200)) + "\"");
  }
  json j = json::parse(content, nullptr, false);
  if (!j.is_object() || !media::IsManifestType(MediaTypeOf(content))) {
    return Invalid("the upstream's manifest " + digest.str() +
                   " is not an image manifest or index");
  }
  std::optional<Digest> subject;
  if (auto sj = j.find("subject"); sj != j.end()) {
    if (Result<Digest> sd = CheckDescriptor(*sj, "subject"); sd.ok()) subject = *sd;
  }
  BlobStore::Use use(blobs_);  // kept by a sweep until linked (gc.h)
  use.Add(digest);
  std::vector<std::string> tags;
  if (!tag.empty()) tags.emplace_back(tag);
  return Store(repo, digest, content, subject, tags);
}

Status ManifestStore::DeleteRevision(std::string_view repo, const Digest& d) {
  if (Result<std::string> c = blobs_.GetSmall(d); c.ok()) {
    json j = json::parse(*c, nullptr, false);
    if (j.is_object() && j.contains("subject") && j["subject"].is_object() &&
        j["subject"].contains("digest") && j["subject"]["digest"].is_string()) {
      if (Result<Digest> s = Digest::Parse(j["subject"]["digest"].get<std::string>()); s.ok()) {
        std::string link = paths::ReferrerLink(repo, *s, d);
        (void)d_.Delete(link.substr(0, link.rfind('/')));
      }
    }
  }
  std::string link = paths::ManifestRevisionLink(repo, d);
  Status st = d_.Delete(link.substr(0, link.rfind('/')));
  return st.code() == Code::kNotFound ? Status::Ok() : st;
}

Status ManifestStore::Delete(std::string_view repo, std::string_view reference) {
  if (!IsDigestReference(reference)) {
    if (!IsValidTag(reference)) return UnknownManifest(reference);
    if (!d_.Stat(paths::TagCurrentLink(repo, reference)).ok()) return UnknownManifest(reference);
    return d_.Delete(paths::TagDir(repo, reference));
  }
  Result<Digest> d = Resolve(repo, reference);
  if (!d.ok()) return d.status();
  HOIST_RETURN_IF_ERROR(DeleteRevision(repo, *d));
  // Untag: every tag whose current link names this digest.
  Result<std::vector<std::string>> tags = d_.List(paths::TagsDir(repo));
  if (tags.ok()) {
    for (const std::string& dir : *tags) {
      std::string tag = dir.substr(dir.rfind('/') + 1);
      Result<std::string> cur = d_.GetContent(paths::TagCurrentLink(repo, tag));
      if (cur.ok()) {
        Result<Digest> cd = paths::ParseLink(*cur);
        if (cd.ok() && *cd == *d) (void)d_.Delete(dir);
      }
    }
  }
  return Status::Ok();
}

std::vector<Digest> ManifestStore::Revisions(std::string_view repo) {
  std::vector<Digest> out;
  for (DigestAlgorithm alg : {DigestAlgorithm::kSha256, DigestAlgorithm::kSha512}) {
    Result<std::vector<std::string>> revs = d_.List(paths::ManifestRevisionsDir(repo, alg));
    if (!revs.ok()) continue;
    for (const std::string& rev : *revs) {
      std::string s = std::string(AlgorithmName(alg)) + ":" + rev.substr(rev.rfind('/') + 1);
      Result<Digest> dg = Digest::Parse(s);
      if (dg.ok() && d_.Stat(paths::ManifestRevisionLink(repo, *dg)).ok()) out.push_back(*dg);
    }
  }
  return out;
}

Result<std::vector<std::string>> ManifestStore::Tags(std::string_view repo) {
  Result<std::vector<std::string>> dirs = d_.List(paths::TagsDir(repo));
  std::vector<std::string> tags;
  if (!dirs.ok()) {
    if (dirs.status().code() != Code::kNotFound) return dirs.status();
    if (!d_.Stat(paths::Repository(repo) + "/_manifests").ok()) {
      return Status(Code::kNameUnknown, "repository " + std::string(repo) + " not known");
    }
    return tags;
  }
  for (const std::string& dir : *dirs) {
    std::string tag = dir.substr(dir.rfind('/') + 1);
    if (IsValidTag(tag)) tags.push_back(std::move(tag));
  }
  std::sort(tags.begin(), tags.end());
  return tags;
}

Result<std::string> ManifestStore::Referrers(std::string_view repo, const Digest& subject,
                                             std::string_view artifact_type) {
  json list = json::array();
  Result<std::vector<std::string>> algs = d_.List(paths::ReferrersDir(repo, subject));
  std::vector<Digest> found;
  if (algs.ok()) {
    for (const std::string& alg_dir : *algs) {
      Result<DigestAlgorithm> alg = ParseAlgorithm(alg_dir.substr(alg_dir.rfind('/') + 1));
      if (!alg.ok()) continue;
      Result<std::vector<std::string>> hexes = d_.List(alg_dir);
      if (!hexes.ok()) continue;
      for (const std::string& h : *hexes) {
        std::string s = std::string(AlgorithmName(*alg)) + ":" + h.substr(h.rfind('/') + 1);
        if (Result<Digest> d = Digest::Parse(s); d.ok()) found.push_back(*d);
      }
    }
  }
  std::sort(found.begin(), found.end());
  for (const Digest& d : found) {
    if (!d_.Stat(paths::ManifestRevisionLink(repo, d)).ok()) continue;
    Result<std::string> c = blobs_.GetSmall(d);
    if (!c.ok()) continue;
    json m = json::parse(*c, nullptr, false);
    if (!m.is_object()) continue;
    std::string mt = MediaTypeOf(*c);
    json desc = {{"mediaType", mt}, {"digest", d.str()}, {"size", c->size()}};
    std::string at;
    if (m.contains("artifactType") && m["artifactType"].is_string()) {
      at = m["artifactType"].get<std::string>();
    } else if (!media::IsIndexType(mt) && m.contains("config") && m["config"].is_object() &&
               m["config"].contains("mediaType") && m["config"]["mediaType"].is_string()) {
      at = m["config"]["mediaType"].get<std::string>();
    }
    if (!at.empty()) desc["artifactType"] = at;
    if (m.contains("annotations") && m["annotations"].is_object()) {
      desc["annotations"] = m["annotations"];
    }
    if (!artifact_type.empty() && at != artifact_type) continue;
    list.push_back(std::move(desc));
  }
  return list.dump();
}

Result<std::vector<std::string>> ManifestStore::Repositories() {
  std::vector<std::string> repos;
  storage::ForEachRepositoryInternal(
      d_, [&](const std::string& repo, const std::string&, const std::string& name) {
        if (name == "_manifests") repos.push_back(repo);
      });
  std::sort(repos.begin(), repos.end());
  return repos;
}

}  // namespace hoist::registry
