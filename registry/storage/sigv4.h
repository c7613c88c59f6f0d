// AWS Signature Version 4 in the Authorization header, as the S3 driver's
// requests carry it (AWS's "Signature Version 4 signing process", and for
// S3 "Authenticating Requests: Using the Authorization Header"): a canonical
// request of the method, the path and query as sent (S3 paths are not
// normalised or encoded twice), the headers named and the payload hash;
// then an HMAC-SHA256 chain of date, region, service and "aws4_request".
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hoist::storage {

struct SigV4Credentials {
  std::string access_key, secret_key;
  std::string region = "us-east-1";
  std::string service = "s3";
};

struct SigV4Request {
  std::string method;
  std::string host;  // the Host header as sent: host[:port]
  std::string path;  // percent-encoded, as sent
  // Percent-encoded names and values, as sent, in any order.
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::string> headers;  // "Name: value": all of them are signed
  // Hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" (S3 takes the value of
  // x-amz-content-sha256, which must then be among the headers).
  std::string payload_hash;
};

// The headers that sign `r` at `unix_time`: "X-Amz-Date: ..." and
// "Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...".
std::vector<std::string> SignV4(const SigV4Credentials& creds, const SigV4Request& r,
                                int64_t unix_time);

}  // namespace hoist::storage
