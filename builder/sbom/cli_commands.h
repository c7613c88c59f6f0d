// The inventory subcommands of the `hoist` binary as library calls, so
// cli/main.cc only wires them in:
//
//   hoist sbom IMAGE [--platform P] [--output FILE] [--attach]
//       the SPDX 2.3 JSON document of any image (registry, oci:, archives);
//       --attach also stores it as a referrer of a registry image
//   hoist scan IMAGE --db DIR [--json] [--fail-on SEVERITY] [--platform P]
//       its packages matched against an OSV feed (common/packages/osv.h)
//
// Exit codes: 0 done (scan: nothing at or above --fail-on), 1 failure,
// 2 usage, 3 scan found something at or above --fail-on.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "builder/transfer/cli_commands.h"

namespace hoist::sbom {

inline constexpr int kExitVulnerable = 3;

class CliCommands {
 public:
  // Adds the subcommands to `app`. `app` must outlive this object.
  explicit CliCommands(CLI::App& app);

  bool Owns(int argc, char** argv) const;
  int Run(int argc, char** argv);

 private:
  int RunSbom();
  int RunScan();

  CLI::App& app_;
  CLI::App *sbom_, *scan_;
  transfer::ConnectionFlags conn_;
  std::string image_, platform_, output_, db_, fail_on_;
  bool json_ = false, attach_ = false;
};

}  // namespace hoist::sbom
