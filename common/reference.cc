#include "common/reference.h"

#include <algorithm>
#include <cctype>

#include "common/names.h"

namespace hoist {
namespace {

Status Invalid(std::string_view input, std::string_view why) {
  return Status(Code::kInvalidArgument, "invalid reference \"" + std::string(input.substr(0, 300)) +
                                            "\": " + std::string(why));
}

bool IsAlnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// domain-component: [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool IsDomainComponent(std::string_view c) {
  if (c.empty() || !IsAlnum(c.front()) || !IsAlnum(c.back())) return false;
  return std::all_of(c.begin(), c.end(), [](char ch) { return IsAlnum(ch) || ch == '-'; });
}

bool IsPort(std::string_view p) {
  return !p.empty() && p.size() <= 5 &&
         std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// host [":" port], host: domain-name | IPv4 | "[" IPv6 "]".
bool IsValidDomain(std::string_view d) {
  if (d.empty()) return false;
  std::string_view host = d;
  if (d.front() == '[') {
    size_t close = d.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    std::string_view v6 = d.substr(1, close - 1);
    if (!std::all_of(v6.begin(), v6.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) || c == ':';
        }))
      return false;
    std::string_view rest = d.substr(close + 1);
    return rest.empty() || (rest.front() == ':' && IsPort(rest.substr(1)));
  }
  size_t colon = d.find(':');
  if (colon != std::string_view::npos) {
    if (!IsPort(d.substr(colon + 1))) return false;
    host = d.substr(0, colon);
  }
  size_t start = 0;
  while (true) {
    size_t dot = host.find('.', start);
    if (!IsDomainComponent(
            host.substr(start, dot == std::string_view::npos ? host.npos : dot - start)))
      return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool HasUpper(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

Result<Reference> Reference::Parse(std::string_view s, bool default_tag) {
  if (s.empty()) return Invalid(s, "empty reference");
  if (s.find_first_of(" \t\r\n") != std::string_view::npos)
    return Invalid(s, "contains whitespace");
  Reference r;
  std::string_view name = s;
  size_t at = s.find('@');
  if (at != std::string_view::npos) {
    Result<Digest> d = Digest::Parse(s.substr(at + 1));
    if (!d.ok()) return Invalid(s, d.status().message());
    r.digest_ = *d;
    name = s.substr(0, at);
  }
  size_t colon = name.rfind(':');
  size_t slash = name.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = name.substr(colon + 1);
    if (!IsValidTag(tag)) return Invalid(s, "invalid tag \"" + std::string(tag) + "\"");
    r.tag_ = std::string(tag);
    name = name.substr(0, colon);
  }
  if (name.empty()) return Invalid(s, "missing repository name");

  std::string_view remainder = name;
  std::string domain(kDockerHubDomain);
  size_t first = name.find('/');
  if (first != std::string_view::npos) {
    std::string_view head = name.substr(0, first);
    if (head.find_first_of(".:") != std::string_view::npos || head == "localhost" ||
        HasUpper(head)) {
      domain = std::string(head);
      remainder = name.substr(first + 1);
    }
  }
  if (!IsValidDomain(domain)) return Invalid(s, "invalid registry host \"" + domain + "\"");
  std::transform(domain.begin(), domain.end(), domain.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (domain == "index.docker.io") domain = std::string(kDockerHubDomain);
  std::string path(remainder);
  if (domain == kDockerHubDomain && path.find('/') == std::string::npos) path = "library/" + path;
  if (HasUpper(path)) {
    // distribution/reference's wording (ParseNormalizedNamed), which
    // docker and BuildKit print.
    return Status(Code::kInvalidArgument,
                  "invalid reference format: repository name (" + path + ") must be lowercase");
  }
  if (!IsValidRepositoryName(path)) {
    return Invalid(s, "invalid repository name \"" + path + "\"");
  }
  if (domain.size() + 1 + path.size() > kMaxRepositoryNameLength) {
    return Invalid(s, "repository name longer than 255 characters");
  }
  r.domain_ = std::move(domain);
  r.path_ = std::move(path);
  if (default_tag && r.tag_.empty() && !r.digest_) r.tag_ = "latest";
  return r;
}

std::string Reference::String() const {
  std::string s = Name();
  if (!tag_.empty()) s += ":" + tag_;
  if (digest_) s += "@" + digest_->str();
  return s;
}

std::string Reference::Familiar() const {
  std::string s;
  if (domain_ == kDockerHubDomain) {
    s = path_.rfind("library/", 0) == 0 && path_.find('/', 8) == std::string::npos ? path_.substr(8)
                                                                                   : path_;
  } else {
    s = Name();
  }
  if (!tag_.empty()) s += ":" + tag_;
  if (digest_) s += "@" + digest_->str();
  return s;
}

std::string Reference::ManifestReference() const {
  return digest_ ? digest_->str() : tag_;
}

Reference Reference::WithTag(std::string tag) const {
  Reference r = *this;
  r.tag_ = std::move(tag);
  r.digest_.reset();
  return r;
}

Reference Reference::WithDigest(const Digest& d) const {
  Reference r = *this;
  r.digest_ = d;
  return r;
}

Reference Reference::WithoutTagOrDigest() const {
  Reference r = *this;
  r.tag_.clear();
  r.digest_.reset();
  return r;
}

Result<std::string> NormalizeRegistryHost(std::string_view s) {
  std::string_view in = s;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (s.substr(0, scheme.size()) == scheme) s.remove_prefix(scheme.size());
  }
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) s = s.substr(0, slash);
  std::string host(s);
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (host == "index.docker.io" || host == "registry-1.docker.io") host = kDockerHubDomain;
  if (!IsValidDomain(host)) {
    return Status(Code::kInvalidArgument,
                  "invalid registry host \"" + std::string(in.substr(0, 300)) + "\"");
  }
  return host;
}

std::string RegistryApiHost(std::string_view domain) {
  return domain == kDockerHubDomain ? std::string(kDockerHubApiHost) : std::string(domain);
}

bool IsLoopbackHost(std::string_view d) {
  std::string_view host = d;
  if (!d.empty() && d.front() == '[') {
    size_t close = d.find(']');
    host = d.substr(1, close == std::string_view::npos ? d.npos : close - 1);
    return host == "::1" || host == "0:0:0:0:0:0:0:1";
  }
  size_t colon = d.find(':');
  if (colon != std::string_view::npos) host = d.substr(0, colon);
  if (host == "localhost") return true;
  if (host.substr(0, 4) != "127.") return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.')
      ++dots;
    else if (c < '0' || c > '9')
      return false;
  }
  return dots == 3;
}

}  // namespace hoist
