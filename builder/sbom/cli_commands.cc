#include "builder/sbom/cli_commands.h"

#include <cstdio>
#include <nlohmann/json.hpp>

#include "builder/sbom/inventory.h"
#include "builder/transfer/layout.h"
#include "builder/transfer/place.h"
#include "common/packages/osv.h"

namespace hoist::sbom {
namespace {

using nlohmann::json;
using packages::Finding;
using packages::Severity;

int Fail(const Status& st) {
  std::fprintf(stderr, "hoist: %s\n", st.message().c_str());
  return st.code() == Code::kInvalidArgument ? transfer::kExitUsage : transfer::kExitFailure;
}

}  // namespace

CliCommands::CliCommands(CLI::App& app) : app_(app) {
  sbom_ = app.add_subcommand("sbom", "Print the SPDX 2.3 JSON document of an image's packages");
  sbom_->add_option("image", image_, "REF | oci:DIR[:TAG] | oci-archive:FILE | docker-archive:FILE")
      ->required();
  sbom_->add_option("--output,-o", output_, "Write the document to FILE instead of stdout");
  sbom_->add_option("--platform", platform_, "For an index: this platform (default: the host's)");
  sbom_->add_flag("--attach", attach_,
                  "Also attach the document to the (registry) image as an OCI 1.1 referrer "
                  "(artifactType application/spdx+json)");
  transfer::AddConnectionFlags(sbom_, conn_);

  scan_ = app.add_subcommand("scan",
                             "Match an image's packages against a local OSV vulnerability feed");
  scan_->add_option("image", image_, "REF | oci:DIR[:TAG] | oci-archive:FILE | docker-archive:FILE")
      ->required();
  scan_->add_option("--db", db_, "Directory of OSV JSON records (searched recursively)")
      ->required();
  scan_->add_flag("--json", json_, "Print the report as one JSON document");
  scan_->add_option("--fail-on", fail_on_,
                    "Exit 3 when a finding is this severe or more: LOW|MEDIUM|HIGH|CRITICAL");
  scan_->add_option("--platform", platform_, "For an index: this platform (default: the host's)");
  transfer::AddConnectionFlags(scan_, conn_);
}

bool CliCommands::Owns(int argc, char** argv) const {
  if (argc < 2) return false;
  const std::string cmd = argv[1];
  return cmd == sbom_->get_name() || cmd == scan_->get_name();
}

int CliCommands::Run(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e) == 0 ? transfer::kExitOk : transfer::kExitUsage;
  }
  return *sbom_ ? RunSbom() : RunScan();
}

// The inventory of `image` (by --platform), and the manifest read.
static Result<packages::ImageInventory> Inventory(const std::string& image,
                                                  const std::string& platform,
                                                  const transfer::ConnectionFlags& conn,
                                                  transfer::Manifest* inventoried = nullptr,
                                                  transfer::Place* where = nullptr) {
  Result<transfer::Place> place = transfer::ParsePlace(image);
  if (!place.ok()) return place.status();
  if (where != nullptr) *where = *place;
  std::optional<transfer::Platform> want;
  if (!platform.empty()) {
    Result<transfer::Platform> p = transfer::Platform::Parse(platform);
    if (!p.ok()) return Status(Code::kInvalidArgument, p.status().message());
    want = *p;
  }
  transfer::Places places(transfer::ClientOptions(conn));
  Result<std::unique_ptr<transfer::ImageSource>> src = places.OpenSource(*place);
  if (!src.ok()) return src.status();
  Result<packages::ImageInventory> inv = ReadInventory(**src, want, inventoried);
  // What the image holds is not the user's usage: a damaged database is a
  // failure (exit 1), not a bad flag.
  if (!inv.ok() && inv.status().code() == Code::kInvalidArgument) {
    return Status(Code::kManifestInvalid, image + ": " + inv.status().message());
  }
  return inv;
}

int CliCommands::RunSbom() {
  transfer::Manifest inventoried;
  transfer::Place place;
  Result<packages::ImageInventory> inv = Inventory(image_, platform_, conn_, &inventoried, &place);
  if (!inv.ok()) return Fail(inv.status());
  if (attach_ && place.local()) {
    return Fail(Status(Code::kInvalidArgument, "--attach needs a registry image"));
  }
  const std::string doc = SpdxNow(*inv);
  if (attach_) {
    RegistryClient client(place.ref->domain(), transfer::ClientOptions(conn_));
    client.PreferPushScope(place.ref->path());
    Result<Digest> d = AttachSbom(client, place.ref->path(), inventoried, doc);
    if (!d.ok()) return Fail(d.status());
    std::fprintf(stderr, "attached to %s@%s as %s\n", place.ref->Name().c_str(),
                 inventoried.digest.str().c_str(), d->str().c_str());
  }
  if (output_.empty()) {
    std::fwrite(doc.data(), 1, doc.size(), stdout);
    return transfer::kExitOk;
  }
  if (Status st = transfer::WriteFileAtomic(output_, doc); !st.ok()) return Fail(st);
  std::fprintf(stderr, "%s: %zu packages\n", output_.c_str(), inv->packages.size());
  return transfer::kExitOk;
}

int CliCommands::RunScan() {
  std::optional<Severity> fail_on;
  if (!fail_on_.empty()) {
    Result<Severity> s = packages::ParseSeverity(fail_on_);
    if (!s.ok()) return Fail(s.status());
    fail_on = *s;
  }
  Result<packages::OsvFeed> feed = packages::OsvFeed::Load(db_);
  if (!feed.ok()) return Fail(feed.status());
  Result<packages::ImageInventory> inv = Inventory(image_, platform_, conn_);
  if (!inv.ok()) return Fail(inv.status());
  const std::vector<Finding> findings = feed->Match(inv->packages, inv->os);
  bool over = false;
  std::map<Severity, int> counts;
  for (const Finding& f : findings) {
    ++counts[f.severity];
    over |= fail_on && f.severity >= *fail_on;
  }
  const std::string os = inv->os.id.empty() ? "unknown OS" : inv->os.id + " " + inv->os.version_id;
  if (json_) {
    json j = {{"image", inv->name},
              {"digest", inv->digest.str()},
              {"os", {{"id", inv->os.id}, {"versionId", inv->os.version_id}}},
              {"packages", inv->packages.size()},
              {"records", feed->size()},
              {"findings", json::array()}};
    for (const Finding& f : findings) {
      j["findings"].push_back(packages::FindingJson(f));
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s (%s): %s, %zu packages, %zu findings", inv->name.c_str(),
                inv->digest.str().c_str(), os.c_str(), inv->packages.size(), findings.size());
    const char* sep = " (";
    for (Severity s : {Severity::kCritical, Severity::kHigh, Severity::kMedium, Severity::kLow,
                       Severity::kUnknown}) {
      if (counts[s] == 0) continue;
      std::printf("%s%d %s", sep, counts[s], packages::SeverityName(s).c_str());
      sep = ", ";
    }
    std::printf("%s\n", findings.empty() ? "" : ")");
    if (!findings.empty()) {
      std::printf("%-9s %-20s %-24s %-24s %-24s %s\n", "SEVERITY", "ID", "PACKAGE", "VERSION",
                  "FIXED IN", "SUMMARY");
    }
    for (const Finding& f : findings) {
      std::printf("%-9s %-20s %-24s %-24s %-24s %s\n", packages::SeverityName(f.severity).c_str(),
                  f.id.c_str(), f.package.c_str(), f.version.c_str(),
                  f.fixed.empty() ? "-" : f.fixed.c_str(), f.summary.c_str());
    }
  }
  if (over) {
    std::fflush(stdout);  // the report before the verdict, also when both go to one pipe
    std::fprintf(stderr, "hoist: findings at or above %s\n",
                 packages::SeverityName(*fail_on).c_str());
    return kExitVulnerable;
  }
  return transfer::kExitOk;
}

}  // namespace hoist::sbom
