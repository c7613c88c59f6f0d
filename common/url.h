// Request targets as both HTTP servers (the registry's, the engine's) take
// them apart: RFC 3986 percent-decoding, and the query string as Go's
// net/url reads it ('+' is a space there, pairs in order, keys repeatable).
// PercentEncode is also what the clients (http_client, the S3 driver) send.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hoist::url {

using Query = std::vector<std::pair<std::string, std::string>>;

// Decodes %XX escapes (broken ones stay as they are); with plus_is_space,
// '+' becomes ' ' (query strings).
std::string PercentDecode(std::string_view s, bool plus_is_space);
// Escapes, as %XX in upper case, all but RFC 3986's unreserved characters
// and those in `keep`.
std::string PercentEncode(std::string_view s, std::string_view keep = "/:");
// "x=1&y" (a query string, or an application/x-www-form-urlencoded body)
// -> {{"x","1"},{"y",""}}.
Query ParseQuery(std::string_view query);
// "/a%20b?x=1&y" -> path "/a b", query {{"x","1"},{"y",""}}.
void SplitTarget(std::string_view target, std::string* path, Query* query);
// The first value of `key`, or nullopt; every value of `key`, in order.
std::optional<std::string> QueryValue(const Query& q, std::string_view key);
std::vector<std::string> QueryValues(const Query& q, std::string_view key);

}  // namespace hoist::url
