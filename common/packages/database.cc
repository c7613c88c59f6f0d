#include "common/packages/database.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "common/url.h"

namespace hoist::packages {
namespace {

// A purl component: everything but unreserved characters and ':'
// percent-encoded (purl-spec, "Character encoding").
std::string PurlEncode(std::string_view s) {
  return url::PercentEncode(s, ":");
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Lines of `text`, without their line ends.
std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return out;
}

Status BadLine(const char* what, size_t line, const std::string& why) {
  return Status(Code::kInvalidArgument,
                std::string(what) + " line " + std::to_string(line) + ": " + why);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

Result<std::vector<Package>> ParseDpkgStatus(std::string_view text) {
  std::vector<Package> out;
  std::map<std::string, std::string> fields;
  std::string last;
  size_t line_no = 0, start = 0;
  auto flush = [&]() -> Status {
    if (fields.empty()) return Status::Ok();
    std::map<std::string, std::string> f;
    f.swap(fields);
    last.clear();
    // Only what is installed: Status "want flag state", state "installed".
    std::string status(Trim(f["status"]));
    if (status.size() < 10 || status.substr(status.size() - 10) != " installed") {
      return Status::Ok();
    }
    Package p;
    p.type = PackageType::kDeb;
    p.name = std::string(Trim(f["package"]));
    p.version = std::string(Trim(f["version"]));
    if (p.name.empty() || p.version.empty()) {
      return BadLine("dpkg status", start, "a stanza without Package or Version");
    }
    p.arch = std::string(Trim(f["architecture"]));
    p.supplier = std::string(Trim(f["maintainer"]));
    p.homepage = std::string(Trim(f["homepage"]));
    p.source_name = p.name;
    p.source_version = p.version;
    // deb-control(5): "Source: name (version)", the version only when
    // it differs from the binary's.
    std::string_view src = Trim(f["source"]);
    if (!src.empty()) {
      const size_t paren = src.find('(');
      p.source_name = std::string(Trim(src.substr(0, paren)));
      if (paren != std::string_view::npos) {
        const size_t close = src.find(')', paren);
        if (close == std::string_view::npos) {
          return BadLine("dpkg status", start, "Source: an unclosed \"(\"");
        }
        p.source_version = std::string(Trim(src.substr(paren + 1, close - paren - 1)));
      }
    }
    out.push_back(std::move(p));
    return Status::Ok();
  };
  for (std::string_view line : Lines(text)) {
    ++line_no;
    if (Trim(line).empty()) {
      if (Status st = flush(); !st.ok()) return st;
      continue;
    }
    if (fields.empty()) start = line_no;
    if (line.front() == ' ' || line.front() == '\t') {
      if (last.empty()) return BadLine("dpkg status", line_no, "a continuation line first");
      fields[last] += "\n" + std::string(line);
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return BadLine("dpkg status", line_no, "not \"Field: value\"");
    }
    last = Lower(line.substr(0, colon));
    fields[last] = std::string(Trim(line.substr(colon + 1)));
  }
  if (Status st = flush(); !st.ok()) return st;
  return out;
}

Result<std::vector<Package>> ParseApkInstalled(std::string_view text) {
  std::vector<Package> out;
  Package p;
  bool any = false;
  size_t line_no = 0, start = 0;
  auto flush = [&]() -> Status {
    if (!any) return Status::Ok();
    any = false;
    if (p.name.empty() || p.version.empty()) {
      return BadLine("apk installed", start, "a package without P: or V:");
    }
    if (p.source_name.empty()) p.source_name = p.name;
    p.source_version = p.version;
    out.push_back(std::move(p));
    p = Package();
    return Status::Ok();
  };
  for (std::string_view line : Lines(text)) {
    ++line_no;
    if (line.empty()) {
      if (Status st = flush(); !st.ok()) return st;
      continue;
    }
    if (line.size() < 2 || line[1] != ':') {
      return BadLine("apk installed", line_no, "not \"X:value\"");
    }
    if (!any) start = line_no;
    any = true;
    p.type = PackageType::kApk;
    const std::string value(line.substr(2));
    switch (line[0]) {
      case 'P':
        p.name = value;
        break;
      case 'V':
        p.version = value;
        break;
      case 'A':
        p.arch = value;
        break;
      case 'o':
        p.source_name = value;
        break;
      case 'L':
        p.license = value;
        break;
      case 'm':
        p.supplier = value;
        break;
      case 'U':
        p.homepage = value;
        break;
      default:
        break;  // files (F, R, a, Z), checksums, dependencies
    }
  }
  if (Status st = flush(); !st.ok()) return st;
  return out;
}

OsRelease ParseOsRelease(std::string_view text) {
  OsRelease os;
  for (std::string_view line : Lines(text)) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    // Shell-style quoting of the value, as os-release(5) allows.
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    std::string v;
    for (size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      v += value[i];
    }
    if (key == "ID") os.id = v;
    if (key == "VERSION_ID") os.version_id = v;
    if (key == "PRETTY_NAME") os.pretty_name = v;
    if (key == "VERSION_CODENAME") os.codename = v;
  }
  return os;
}

std::string Purl(const Package& p, const OsRelease& os) {
  const bool deb = p.type == PackageType::kDeb;
  const std::string ns = deb ? (os.id.empty() ? "debian" : Lower(os.id)) : "alpine";
  std::string purl = std::string("pkg:") + (deb ? "deb/" : "apk/") + PurlEncode(ns) + "/" +
                     PurlEncode(deb ? Lower(p.name) : p.name) + "@" + PurlEncode(p.version);
  // Qualifiers sorted by key; empty ones left out.
  std::map<std::string, std::string> q;
  if (!p.arch.empty()) q["arch"] = p.arch;
  if (!os.id.empty() && !os.version_id.empty()) q["distro"] = Lower(os.id) + "-" + os.version_id;
  if (deb && p.source_name != p.name) {
    q["upstream"] = p.source_name + (p.source_version != p.version ? "@" + p.source_version : "");
  }
  char sep = '?';
  for (const auto& [k, v] : q) {
    purl += sep + k + "=" + PurlEncode(v);
    sep = '&';
  }
  return purl;
}

VersionScheme SchemeOf(const Package& p) {
  return p.type == PackageType::kDeb ? VersionScheme::kDpkg : VersionScheme::kApk;
}

}  // namespace hoist::packages
