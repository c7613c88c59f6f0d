// Content codings of response bodies (RFC 9110 §8.4, §12.5.3): which one a
// request's Accept-Encoding prefers among those we offer, and encoding a
// small body with it. The coding applies to the representation on the wire
// only: a client that decodes gets the exact bytes a digest covers.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "registry/http/server.h"

namespace hoist::http {

// "zstd", "gzip", or "" (identity) for `req`: the offered coding with the
// highest q-value in its Accept-Encoding fields ("*" standing for any not
// named), zstd first on a tie. Fields are parsed with Beast's ext_list.
std::string PreferredCoding(const Request& req);

// `body` encoded with `coding` ("zstd" or "gzip", one frame/member).
Result<std::string> Encode(std::string_view coding, std::string_view body);

// Adds Vary: Accept-Encoding, and encodes a GET's 200 small body in place
// when `req` accepts a coding and the body is at least `min_bytes`: sets
// Content-Encoding and makes a strong ETag weak (the bytes on the wire
// differ).
void EncodeResponse(const Request& req, Response& resp, size_t min_bytes = 1024);

}  // namespace hoist::http
