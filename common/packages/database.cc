#include "common/packages/database.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <memory>

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

namespace {

uint32_t Be32(std::string_view s, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

// rpm's tag numbers (rpmtag.h) and the two data types read here.
enum RpmTag : uint32_t {
  kRpmName = 1000,
  kRpmVersion = 1001,
  kRpmRelease = 1002,
  kRpmEpoch = 1003,
  kRpmVendor = 1011,
  kRpmLicense = 1014,
  kRpmPackager = 1015,
  kRpmUrl = 1020,
  kRpmArch = 1022,
  kRpmSourceRpm = 1044,
};
constexpr uint32_t kRpmInt32 = 4, kRpmString = 6, kRpmI18nString = 9;

struct SqliteClose {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtFinalize {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

}  // namespace

Result<Package> ParseRpmHeader(std::string_view blob) {
  const Status bad(Code::kInvalidArgument, "rpm header: truncated or malformed");
  if (blob.size() < 8) return bad;
  const uint64_t count = Be32(blob, 0), data_size = Be32(blob, 4);
  const uint64_t data_at = 8 + 16 * count;
  if (count > (1u << 16) || data_at + data_size > blob.size()) return bad;
  const std::string_view data = blob.substr(data_at, data_size);
  std::map<uint32_t, std::string> strings;
  std::optional<uint32_t> epoch;
  for (uint64_t i = 0; i < count; ++i) {
    const size_t e = 8 + 16 * i;
    const uint32_t tag = Be32(blob, e), type = Be32(blob, e + 4), offset = Be32(blob, e + 8);
    if (offset >= data.size()) continue;  // region trailers and the like
    if ((type == kRpmString || type == kRpmI18nString) && tag >= kRpmName && tag <= kRpmSourceRpm) {
      const size_t end = data.find('\0', offset);
      if (end == std::string_view::npos) return bad;
      strings[tag] = std::string(data.substr(offset, end - offset));
    } else if (type == kRpmInt32 && tag == kRpmEpoch && offset + 4 <= data.size()) {
      epoch = Be32(data, offset);
    }
  }
  Package p;
  p.type = PackageType::kRpm;
  p.name = strings[kRpmName];
  if (p.name.empty() || strings[kRpmVersion].empty()) {
    return Status(Code::kInvalidArgument, "rpm header: no NAME or VERSION");
  }
  p.version =
      strings[kRpmVersion] + (strings[kRpmRelease].empty() ? "" : "-" + strings[kRpmRelease]);
  if (epoch) p.epoch = std::to_string(*epoch);
  p.arch = strings[kRpmArch];
  p.license = strings[kRpmLicense];
  p.supplier = strings[kRpmVendor];
  p.homepage = strings[kRpmUrl];
  // SOURCERPM "glibc-2.34-100.el9.src.rpm": the source package's name and version.
  p.source_name = p.name;
  p.source_version = p.version;
  const std::string& srpm = strings[kRpmSourceRpm];
  if (srpm.size() > 8 && srpm.compare(srpm.size() - 8, 8, ".src.rpm") == 0) {
    const std::string nvr = srpm.substr(0, srpm.size() - 8);
    const size_t rel = nvr.rfind('-'),
                 ver = rel == std::string::npos ? rel : nvr.rfind('-', rel - 1);
    if (ver != std::string::npos) {
      p.source_name = nvr.substr(0, ver);
      p.source_version = nvr.substr(ver + 1);
    }
  }
  return p;
}

Result<std::vector<Package>> ParseRpmDb(std::string_view db) {
  sqlite3* raw = nullptr;
  if (sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    sqlite3_close(raw);
    return Status(Code::kInternal, "sqlite: cannot open a memory database");
  }
  std::unique_ptr<sqlite3, SqliteClose> conn(raw);
  // sqlite3_deserialize takes a buffer it may own: hand it a copy.
  unsigned char* copy = static_cast<unsigned char*>(sqlite3_malloc64(db.size()));
  if (copy == nullptr) return Status(Code::kInternal, "sqlite: out of memory");
  std::copy(db.begin(), db.end(), copy);
  // rpm keeps its database in WAL mode (file header bytes 18 and 19 are 2),
  // which an in-memory copy cannot open; as a rollback-journal database
  // (1 and 1) the same pages read alike (sqlite's fileformat.html, 1.3).
  if (db.size() >= 100 && copy[18] == 2 && copy[19] == 2) copy[18] = copy[19] = 1;
  if (sqlite3_deserialize(conn.get(), "main", copy, static_cast<sqlite3_int64>(db.size()),
                          static_cast<sqlite3_int64>(db.size()),
                          SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) !=
      SQLITE_OK) {
    return Status(Code::kInvalidArgument, "rpmdb.sqlite: not an SQLite database");
  }
  sqlite3_stmt* raw_stmt = nullptr;
  if (sqlite3_prepare_v2(conn.get(), "SELECT blob FROM Packages", -1, &raw_stmt, nullptr) !=
      SQLITE_OK) {
    return Status(Code::kInvalidArgument,
                  std::string("rpmdb.sqlite: ") + sqlite3_errmsg(conn.get()));
  }
  std::unique_ptr<sqlite3_stmt, StmtFinalize> stmt(raw_stmt);
  std::vector<Package> out;
  int rc;
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    const void* b = sqlite3_column_blob(stmt.get(), 0);
    const int n = sqlite3_column_bytes(stmt.get(), 0);
    Result<Package> p =
        ParseRpmHeader(std::string_view(static_cast<const char*>(b), n > 0 ? n : 0));
    if (!p.ok()) return Status(p.status().code(), "rpmdb.sqlite: " + p.status().message());
    if (p->name == "gpg-pubkey") continue;  // rpm's keyring, not software
    out.push_back(std::move(*p));
  }
  if (rc != SQLITE_DONE) {
    return Status(Code::kInvalidArgument,
                  std::string("rpmdb.sqlite: ") + sqlite3_errmsg(conn.get()));
  }
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
  const bool deb = p.type == PackageType::kDeb, rpm = p.type == PackageType::kRpm;
  // purl-spec: deb and rpm namespaces are the vendor (the distribution),
  // apk's "alpine"; deb names are lower case, rpm and apk names as given.
  const std::string ns = deb   ? (os.id.empty() ? "debian" : Lower(os.id))
                         : rpm ? (os.id.empty() ? "redhat" : Lower(os.id))
                               : "alpine";
  const char* type = deb ? "deb/" : rpm ? "rpm/" : "apk/";
  std::string purl = std::string("pkg:") + type + PurlEncode(ns) + "/" +
                     PurlEncode(deb ? Lower(p.name) : p.name) + "@" + PurlEncode(p.version);
  // Qualifiers sorted by key; empty ones left out.
  std::map<std::string, std::string> q;
  if (!p.arch.empty()) q["arch"] = p.arch;
  if (!os.id.empty() && !os.version_id.empty()) q["distro"] = Lower(os.id) + "-" + os.version_id;
  if (rpm && !p.epoch.empty()) q["epoch"] = p.epoch;
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

std::optional<VersionScheme> SchemeOf(const Package& p) {
  switch (p.type) {
    case PackageType::kDeb:
      return VersionScheme::kDpkg;
    case PackageType::kApk:
      return VersionScheme::kApk;
    default:
      return std::nullopt;
  }
}

}  // namespace hoist::packages
