// Vulnerability matching against a local feed in the OSV format (the
// ossf/osv-schema: one JSON record per file, as the OSV project publishes
// them per ecosystem), for the packages an image's databases record.
//
// - A record applies to a package when one of its `affected` entries names
//   the package's ecosystem and the package: "Debian:<VERSION_ID>" (or
//   "Debian") and the *source* package name, "Alpine:v<major.minor>" (or
//   "Alpine") and the apk origin.
// - Affected (the schema's "Evaluation"): the version is listed in
//   `versions`, or an ECOSYSTEM range's sorted events put it at or after an
//   `introduced` and before the next `fixed` (or at or before
//   `last_affected`); versions compare as dpkg and apk do (version.h).
// - Severity: the highest CVSS v3 base score in `severity` (computed from
//   the vector as FIRST's CVSS v3.1 specification, section 7.1, says),
//   else Debian's `ecosystem_specific.urgency`, else
//   `database_specific.severity`; UNKNOWN when none.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/packages/database.h"
#include "common/status.h"

namespace hoist::packages {

enum class Severity { kUnknown, kLow, kMedium, kHigh, kCritical };
std::string SeverityName(Severity s);  // "LOW", ...
// "low", "MEDIUM", ... ; kInvalidArgument otherwise.
Result<Severity> ParseSeverity(std::string_view s);

// The CVSS v3.0/v3.1 base score of a vector ("CVSS:3.1/AV:N/AC:L/...");
// kInvalidArgument when it is not one.
Result<double> CvssV3BaseScore(std::string_view vector);

struct Finding {
  std::string id;       // "CVE-2024-0001", "DSA-5678-1"
  std::string package;  // the binary package
  std::string version;  // installed
  std::string source;   // the source package matched
  std::string fixed;    // the first fixed version after it; empty: none known
  Severity severity = Severity::kUnknown;
  std::string summary;
};

// {"id", "severity", "package", "version", "source", "fixed", "summary"}:
// how `hoist scan --json` and the registry's scan reports show a finding.
nlohmann::json FindingJson(const Finding& f);

// A loaded feed. Not thread-safe to load; Match is const.
class OsvFeed {
 public:
  // Reads every *.json under `dir` (recursively). kInvalidArgument naming
  // the file for one that is not an OSV record (no id, bad JSON).
  static Result<OsvFeed> Load(const std::string& dir);
  // Records kept (withdrawn ones are skipped).
  size_t size() const { return records_.size(); }
  // Findings for `packages` on `os`, most severe first, then by id.
  std::vector<Finding> Match(const std::vector<Package>& packages, const OsRelease& os) const;

  struct Record;  // opaque
 private:
  std::vector<std::shared_ptr<const Record>> records_;
};

}  // namespace hoist::packages
