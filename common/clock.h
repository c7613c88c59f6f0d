// Times as the formats hoist writes want them.
#pragma once

#include <cstdint>
#include <string>

namespace hoist {

// RFC 3339 in UTC to the second: "2026-12-05T23:40:00Z" (SPDX's
// creationInfo.created, signature times).
std::string FormatUtcSeconds(int64_t unix_seconds);

}  // namespace hoist
