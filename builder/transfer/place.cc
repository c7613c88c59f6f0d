#include "builder/transfer/place.h"

#include "builder/transfer/archive.h"
#include "builder/transfer/layout.h"
#include "builder/transfer/remote.h"

namespace hoist::transfer {
namespace {

bool IsLayoutTag(std::string_view t) {
  if (t.empty() || t.size() > 128) return false;
  for (char c : t) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<Place> ParsePlace(std::string_view s) {
  Place p;
  p.text = std::string(s);
  auto invalid = [&](const std::string& why) {
    return Status(Code::kInvalidArgument, "invalid image location \"" + p.text + "\": " + why);
  };
  struct Prefix {
    std::string_view text;
    PlaceKind kind;
  };
  static const Prefix kPrefixes[] = {{"docker://", PlaceKind::kRegistry},
                                     {"oci-archive:", PlaceKind::kOciArchive},
                                     {"docker-archive:", PlaceKind::kDockerArchive},
                                     {"oci:", PlaceKind::kLayout}};
  std::string_view rest = s;
  bool prefixed = false;
  for (const Prefix& pre : kPrefixes) {
    if (s.substr(0, pre.text.size()) == pre.text) {
      p.kind = pre.kind;
      rest = s.substr(pre.text.size());
      prefixed = true;
      break;
    }
  }
  if (!prefixed) {
    size_t colon = s.find(':');
    std::string_view head = s.substr(0, colon);
    for (std::string_view t : {"dir", "docker-daemon", "containers-storage", "ostree", "sif"}) {
      if (colon != std::string_view::npos && head == t) {
        return invalid("the \"" + std::string(t) + "\" transport is not supported");
      }
    }
  }
  if (p.kind == PlaceKind::kRegistry) {
    if (prefixed && rest.substr(0, 2) == "//") return invalid("too many slashes");
    Result<Reference> r = Reference::Parse(rest);
    if (!r.ok()) return r.status();
    p.ref = *r;
    return p;
  }
  size_t colon = rest.find(':');
  p.path = std::string(rest.substr(0, colon));
  std::string suffix = colon == std::string_view::npos ? "" : std::string(rest.substr(colon + 1));
  if (p.path.empty()) return invalid("missing path");
  if (p.kind == PlaceKind::kDockerArchive) {
    if (!suffix.empty()) {
      Result<Reference> r = Reference::Parse(suffix);
      if (!r.ok()) return r.status();
      if (r->digest()) return invalid("a docker-archive reference cannot have a digest");
      p.ref = *r;
    }
    return p;
  }
  if (colon != std::string_view::npos && !IsLayoutTag(suffix)) {
    return invalid("invalid tag \"" + suffix + "\"");
  }
  p.tag = suffix;
  return p;
}

std::shared_ptr<RegistryClient> Places::Client(const std::string& domain) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<RegistryClient>& c = clients_[domain];
  if (!c) c = std::make_shared<RegistryClient>(domain, options_);
  return c;
}

Result<std::unique_ptr<ImageSource>> Places::OpenSource(const Place& p) {
  switch (p.kind) {
    case PlaceKind::kRegistry:
      return std::unique_ptr<ImageSource>(new RemoteSource(Client(p.ref->domain()), *p.ref));
    case PlaceKind::kLayout: {
      Result<std::unique_ptr<LayoutSource>> s = LayoutSource::Open(p.path, p.tag, p.text);
      if (!s.ok()) return s.status();
      return std::unique_ptr<ImageSource>(std::move(*s));
    }
    case PlaceKind::kOciArchive:
      return OpenOciArchiveSource(p.path, p.tag, p.text);
    case PlaceKind::kDockerArchive:
      return OpenDockerArchiveSource(p.path, p.ref, p.text);
  }
  return Status(Code::kInternal, "unknown place kind");
}

Result<std::unique_ptr<ImageSink>> Places::OpenSink(const Place& p, const Place* from) {
  switch (p.kind) {
    case PlaceKind::kRegistry:
      return std::unique_ptr<ImageSink>(new RemoteSink(Client(p.ref->domain()), *p.ref));
    case PlaceKind::kLayout: {
      Result<std::unique_ptr<LayoutSink>> s = LayoutSink::Open(p.path, p.tag, p.text);
      if (!s.ok()) return s.status();
      return std::unique_ptr<ImageSink>(std::move(*s));
    }
    case PlaceKind::kOciArchive:
      return OpenOciArchiveSink(p.path, p.tag, p.text);
    case PlaceKind::kDockerArchive: {
      std::optional<Reference> ref = p.ref;
      if (!ref && from != nullptr && from->kind == PlaceKind::kRegistry && from->ref &&
          !from->ref->tag().empty()) {
        ref = from->ref->WithTag(from->ref->tag());
      }
      return OpenDockerArchiveSink(p.path, ref, p.text);
    }
  }
  return Status(Code::kInternal, "unknown place kind");
}

}  // namespace hoist::transfer
