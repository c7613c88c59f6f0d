// Repository name and tag grammar (distribution-spec v1.1, "Pulling
// manifests": <name> and <reference>). One parser for the whole project.
#pragma once

#include <string_view>

#include "common/status.h"

namespace hoist {

// Longest repository name the registry accepts (distribution's limit).
inline constexpr size_t kMaxRepositoryNameLength = 255;

// <name>: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*
bool IsValidRepositoryName(std::string_view name);
// Returns OK or kNameInvalid naming the problem.
Status ValidateRepositoryName(std::string_view name);

// <tag>: [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}
bool IsValidTag(std::string_view tag);

}  // namespace hoist
