#include "common/packages/osv.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/json_fields.h"

namespace hoist::packages {

using nlohmann::json;

struct OsvFeed::Record {
  std::string id, summary;
  Severity severity = Severity::kUnknown;
  json affected;  // the record's affected[] as given
};

namespace {

Severity FromScore(double s) {
  if (s >= 9.0) return Severity::kCritical;
  if (s >= 7.0) return Severity::kHigh;
  if (s >= 4.0) return Severity::kMedium;
  if (s > 0.0) return Severity::kLow;
  return Severity::kUnknown;
}

// CVSS v3.1 "Roundup": the smallest number of one decimal place at or
// above the input, computed on integers to avoid float artefacts.
double RoundUp(double x) {
  const int64_t i = std::llround(x * 100000);
  if (i % 10000 == 0) return static_cast<double>(i) / 100000.0;
  return (std::floor(static_cast<double>(i) / 10000) + 1) / 10.0;
}

// Debian's urgency words (the security tracker's), and the words other
// databases put in database_specific.severity.
Severity FromWord(std::string w) {
  std::transform(w.begin(), w.end(), w.begin(), ::tolower);
  if (w == "unimportant" || w == "low" || w == "negligible") return Severity::kLow;
  if (w == "medium" || w == "moderate") return Severity::kMedium;
  if (w == "high" || w == "important") return Severity::kHigh;
  if (w == "critical") return Severity::kCritical;
  return Severity::kUnknown;
}

Severity SeverityOf(const json& severities) {
  Severity best = Severity::kUnknown;
  if (!severities.is_array()) return best;
  for (const json& s : severities) {
    if (!s.is_object() || !s.value("score", json()).is_string()) continue;
    const std::string type = StringField(s, "type");
    if (type != "CVSS_V3") continue;
    Result<double> score = CvssV3BaseScore(s["score"].get<std::string>());
    if (score.ok()) best = std::max(best, FromScore(*score));
  }
  return best;
}

// "Debian:12" for Debian 12, "Alpine:v3.18" for Alpine 3.18.4.
bool EcosystemMatches(const std::string& eco, const Package& p, const OsRelease& os) {
  const size_t colon = eco.find(':');
  const std::string name = eco.substr(0, colon);
  const std::string release = colon == std::string::npos ? "" : eco.substr(colon + 1);
  if (p.type == PackageType::kDeb) {
    if (name != "Debian" && name != "Ubuntu") return false;
    std::string id = os.id;
    if (!id.empty()) id[0] = static_cast<char>(std::toupper(id[0]));
    if (!os.id.empty() && id != name) return false;
    return release.empty() || release == os.version_id || release == os.codename;
  }
  if (name != "Alpine") return false;
  if (release.empty()) return true;
  // v<major>.<minor> of VERSION_ID "3.18.4".
  const std::string& v = os.version_id;
  const size_t dot = v.find('.'), second = v.find('.', dot == std::string::npos ? dot : dot + 1);
  return release == "v" + v.substr(0, second);
}

// The schema's evaluation of one ECOSYSTEM range for `v`; sets *fixed to
// the fixed version that ends the interval `v` is in.
bool InRange(const json& events, const std::string& v, VersionScheme scheme, std::string* fixed) {
  struct Ev {
    std::string kind, version;
  };
  std::vector<Ev> evs;
  for (const json& e : events) {
    if (!e.is_object() || e.size() != 1 || !e.begin().value().is_string()) continue;
    evs.push_back({e.begin().key(), e.begin().value().get<std::string>()});
  }
  // Sorted by version; "0" (introduced at the beginning) before all.
  std::stable_sort(evs.begin(), evs.end(), [&](const Ev& a, const Ev& b) {
    if (a.version == "0" || b.version == "0") return a.version == "0" && b.version != "0";
    return CompareVersions(scheme, a.version, b.version) < 0;
  });
  bool affected = false;
  for (const Ev& e : evs) {
    const bool at_or_below = e.version == "0" || CompareVersions(scheme, e.version, v) <= 0;
    if (e.kind == "introduced" && at_or_below) {
      affected = true;
      fixed->clear();
    } else if (e.kind == "fixed") {
      if (at_or_below) {
        affected = false;
      } else if (affected && fixed->empty()) {
        *fixed = e.version;
      }
    } else if (e.kind == "last_affected" && CompareVersions(scheme, e.version, v) < 0) {
      affected = false;
    } else if (e.kind == "limit" && e.version != "*" && at_or_below) {
      affected = false;
    }
  }
  return affected;
}

}  // namespace

std::string SeverityName(Severity s) {
  switch (s) {
    case Severity::kLow:
      return "LOW";
    case Severity::kMedium:
      return "MEDIUM";
    case Severity::kHigh:
      return "HIGH";
    case Severity::kCritical:
      return "CRITICAL";
    default:
      return "UNKNOWN";
  }
}

nlohmann::json FindingJson(const Finding& f) {
  return {{"id", f.id},           {"severity", SeverityName(f.severity)},
          {"package", f.package}, {"version", f.version},
          {"source", f.source},   {"fixed", f.fixed},
          {"summary", f.summary}};
}

Result<Severity> ParseSeverity(std::string_view s) {
  std::string w(s);
  std::transform(w.begin(), w.end(), w.begin(), ::toupper);
  for (Severity v : {Severity::kUnknown, Severity::kLow, Severity::kMedium, Severity::kHigh,
                     Severity::kCritical}) {
    if (SeverityName(v) == w) return v;
  }
  return Status(Code::kInvalidArgument,
                "a severity is LOW, MEDIUM, HIGH, CRITICAL or UNKNOWN, not " + std::string(s));
}

Result<double> CvssV3BaseScore(std::string_view vector) {
  const Status bad(Code::kInvalidArgument, "not a CVSS v3 vector: " + std::string(vector));
  if (vector.rfind("CVSS:3.0/", 0) != 0 && vector.rfind("CVSS:3.1/", 0) != 0) return bad;
  std::map<std::string, std::string> m;
  std::stringstream ss{std::string(vector.substr(9))};
  for (std::string part; std::getline(ss, part, '/');) {
    const size_t colon = part.find(':');
    if (colon == std::string::npos) return bad;
    m[part.substr(0, colon)] = part.substr(colon + 1);
  }
  const std::map<std::string, std::map<std::string, double>> w = {
      {"AV", {{"N", 0.85}, {"A", 0.62}, {"L", 0.55}, {"P", 0.2}}},
      {"AC", {{"L", 0.77}, {"H", 0.44}}},
      {"UI", {{"N", 0.85}, {"R", 0.62}}},
      {"C", {{"H", 0.56}, {"L", 0.22}, {"N", 0}}},
      {"I", {{"H", 0.56}, {"L", 0.22}, {"N", 0}}},
      {"A", {{"H", 0.56}, {"L", 0.22}, {"N", 0}}}};
  std::map<std::string, double> v;
  for (const auto& [metric, values] : w) {
    auto it = values.find(m[metric]);
    if (it == values.end()) return bad;
    v[metric] = it->second;
  }
  const std::string scope = m["S"], pr = m["PR"];
  if (scope != "U" && scope != "C") return bad;
  const bool changed = scope == "C";
  double privileges;
  if (pr == "N") {
    privileges = 0.85;
  } else if (pr == "L") {
    privileges = changed ? 0.68 : 0.62;
  } else if (pr == "H") {
    privileges = changed ? 0.5 : 0.27;
  } else {
    return bad;
  }
  const double iss = 1 - (1 - v["C"]) * (1 - v["I"]) * (1 - v["A"]);
  const double impact =
      changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  const double exploitability = 8.22 * v["AV"] * v["AC"] * privileges * v["UI"];
  if (impact <= 0) return 0.0;
  return RoundUp(std::min((changed ? 1.08 : 1.0) * (impact + exploitability), 10.0));
}

Result<OsvFeed> OsvFeed::Load(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status(Code::kInvalidArgument, "the OSV feed " + dir + " is not a directory");
  }
  OsvFeed feed;
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
  }
  if (ec) return Status(Code::kIo, "reading " + dir + ": " + ec.message());
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    std::ifstream in(f);
    std::stringstream text;
    text << in.rdbuf();
    json j = json::parse(text.str(), nullptr, false);
    if (!j.is_object() || !j.value("id", json()).is_string() ||
        !j.value("modified", json()).is_string()) {
      return Status(Code::kInvalidArgument,
                    f.string() + ": not an OSV record (want a JSON object with id and modified)");
    }
    if (j.contains("withdrawn")) continue;
    auto r = std::make_shared<Record>();
    r->id = j["id"].get<std::string>();
    r->summary = StringField(j, "summary");
    r->affected = ArrayField(j, "affected");
    r->severity = SeverityOf(j.value("severity", json()));
    if (r->severity == Severity::kUnknown && j.contains("database_specific") &&
        j["database_specific"].is_object() &&
        j["database_specific"].value("severity", json()).is_string()) {
      r->severity = FromWord(j["database_specific"]["severity"].get<std::string>());
    }
    feed.records_.push_back(std::move(r));
  }
  return feed;
}

std::vector<Finding> OsvFeed::Match(const std::vector<Package>& packages,
                                    const OsRelease& os) const {
  std::vector<Finding> out;
  for (const Package& p : packages) {
    const std::optional<VersionScheme> known = SchemeOf(p);
    if (!known) continue;  // rpm: no ecosystem matched yet
    const VersionScheme scheme = *known;
    // Debian's records are keyed by source package and version.
    const std::string& version = p.type == PackageType::kDeb ? p.source_version : p.version;
    for (const auto& r : records_) {
      if (!r->affected.is_array()) continue;
      for (const json& a : r->affected) {
        if (!a.is_object() || !a.contains("package") || !a["package"].is_object()) continue;
        const json& pkg = a["package"];
        if (StringField(pkg, "name") != p.source_name ||
            !EcosystemMatches(StringField(pkg, "ecosystem"), p, os)) {
          continue;
        }
        bool hit = false;
        std::string fixed;
        for (const json& v : ArrayField(a, "versions")) {
          hit |= v.is_string() && CompareVersions(scheme, v.get<std::string>(), version) == 0;
        }
        for (const json& range : ArrayField(a, "ranges")) {
          if (hit) break;
          if (!range.is_object() || StringField(range, "type") != "ECOSYSTEM") continue;
          hit = InRange(ArrayField(range, "events"), version, scheme, &fixed);
        }
        if (!hit) continue;
        Finding f;
        f.id = r->id;
        f.package = p.name;
        f.version = p.version;
        f.source = p.source_name;
        f.fixed = fixed;
        f.summary = r->summary;
        f.severity = SeverityOf(a.value("severity", json()));
        if (f.severity == Severity::kUnknown) f.severity = r->severity;
        if (f.severity == Severity::kUnknown && a.contains("ecosystem_specific") &&
            a["ecosystem_specific"].is_object() &&
            a["ecosystem_specific"].value("urgency", json()).is_string()) {
          f.severity = FromWord(a["ecosystem_specific"]["urgency"].get<std::string>());
        }
        out.push_back(std::move(f));
        break;  // one finding per record and package
      }
    }
  }
  std::sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    if (a.severity != b.severity) return a.severity > b.severity;
    if (a.id != b.id) return a.id < b.id;
    return a.package < b.package;
  });
  return out;
}

}  // namespace hoist::packages
