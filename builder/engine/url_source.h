// ADD <url>: remote files fetched over HTTP(S) with common/http_client.h,
// as BuildKit's HTTP source does for the Dockerfile frontend: the file is
// named after the last element of the URL path, takes its mtime from
// Last-Modified, and is verified against --checksum when one is given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/digest.h"
#include "common/status.h"

namespace hoist::engine {

// Whether an ADD source is a URL ("http://" or "https://").
bool IsHttpUrl(std::string_view source);

// The file name ADD gives a URL's content: path.Base of the URL path, or
// "__unnamed__" when the path has none (dockerfile2llb).
std::string UrlFileName(std::string_view url);

// An HTTP date (RFC 9110 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") as
// seconds since the epoch; nullopt when malformed.
std::optional<int64_t> ParseHttpDate(std::string_view date);

struct Download {
  std::string path;              // the content, a file under the work directory
  Digest digest = DigestOf("");  // of the content: --checksum's algorithm, else sha256
  uint64_t size = 0;
  std::optional<int64_t> last_modified;  // from Last-Modified
};

// Fetches `url` (redirects followed) into a new file under `work_dir`.
// The same URL fetched again into the same work directory by this process
// is served from the first download. Errors: kInvalidArgument for a status
// other than 200 and for a content that does not match `checksum`
// (kDigestInvalid), transport errors as http_client reports them; all name
// the URL. Safe for concurrent use.
Result<Download> FetchUrl(const std::string& url, const std::string& work_dir,
                          const std::optional<Digest>& checksum);

}  // namespace hoist::engine
