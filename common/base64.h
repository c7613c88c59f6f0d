// Base64 (RFC 4648): the standard alphabet when encoding; decoding also
// takes the URL-safe one ("-", "_"), missing padding and line breaks, as
// Docker's config files and X-Registry-Auth headers need.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace hoist {

std::string Base64Encode(std::string_view in);
// kInvalidArgument for a character outside both alphabets.
Result<std::string> Base64Decode(std::string_view in);

}  // namespace hoist
