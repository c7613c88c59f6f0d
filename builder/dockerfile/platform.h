// Build and target platforms ("linux/arm64/v8"), parsed and normalised as
// containerd's platforms package does, so TARGETPLATFORM, TARGETARCH, ...
// get the values BuildKit gives them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hoist::dockerfile {

struct Platform {
  std::string os;
  std::string arch;
  std::string variant;

  // "os/arch[/variant]" (platforms.Format).
  std::string Format() const;
  bool operator==(const Platform&) const = default;
};

// The platform this binary runs on (linux/<arch of the build>).
Platform HostPlatform();

// platforms.Parse followed by platforms.Normalize: "linux/amd64",
// "arm64" (OS of the host), "linux" (arch of the host), "linux/arm/v6",
// "linux/aarch64" -> linux/arm64, "linux/arm" -> linux/arm/v7, ...
// kInvalidArgument for anything else (wildcards, unknown single words,
// more than three parts, invalid characters). OS versions in parentheses
// ("windows(10.0.17763)") are not supported.
Result<Platform> ParsePlatform(std::string_view spec);

// A comma-separated list of them ("linux/amd64,linux/arm64"), as --platform
// takes it for a multi-platform build; kInvalidArgument naming the entry
// that does not parse, or the platform listed twice (after normalising).
Result<std::vector<Platform>> ParsePlatforms(std::string_view list);

}  // namespace hoist::dockerfile
