// Small helpers shared by the transfer unit tests.
#pragma once

#include <string>

#include "common/digest.h"

namespace hoist::transfer::testing {

// A descriptor's JSON for `content` of media type `type`; `extra` is
// appended inside the object (e.g. ",\"platform\":{...}").
inline std::string DescJson(const std::string& type, const std::string& content,
                            const std::string& extra = "") {
  return "{\"mediaType\":\"" + type + "\",\"digest\":\"" + DigestOf(content).str() +
         "\",\"size\":" + std::to_string(content.size()) + extra + "}";
}

}  // namespace hoist::transfer::testing
