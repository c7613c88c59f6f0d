// HTTP/1.1 client on libcurl for the registry client: streams request and
// response bodies both ways (a response body is read in pull mode, like a
// file, so a download can feed an upload without a thread or a whole-blob
// buffer), keeps connections alive in a small pool, does TLS with the
// system CAs plus an optional extra CA file.
//
// Errors (see IsRetryable in registry_client.h):
//   kIo              connection refused/reset/dropped, timeouts, a body cut
//                    short: worth another try
//   kInvalidArgument the host does not resolve, TLS verification failed, a
//                    malformed URL: another try gives the same answer
// HTTP statuses are not errors at this layer: the caller reads status().
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/io.h"
#include "common/status.h"

namespace hoist::http_client {

struct TransportOptions {
  bool tls_verify = true;
  std::string ca_file;  // extra PEM CA bundle, added to the system's
  int connect_timeout_sec = 30;
  int stall_timeout_sec = 60;  // no byte moved either way for this long: kIo
  std::string user_agent = "hoist";
};

// Response headers, names lowercased, in arrival order.
using Headers = std::vector<std::pair<std::string, std::string>>;
// The value of the last header `name` (lowercase), or nullptr.
const std::string* FindHeader(const Headers& headers, std::string_view name);

struct Request {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // a small body (manifests, JSON)
  // Or a large one in memory, shared by the tries of a request rather than
  // copied into each (an S3 part); used instead of `body` when set.
  std::shared_ptr<const std::string> shared_body;
  ByteSource* body_source = nullptr;  // or a streamed body of body_length bytes
  int64_t body_length = -1;
  bool follow_redirects = false;  // GET/HEAD of blobs may redirect to storage
  // AWS Signature Version 4 by libcurl (CURLOPT_AWS_SIGV4), e.g.
  // "aws:amz:us-east-1:s3", with `userpwd` "ACCESS_KEY:SECRET_KEY". The
  // caller adds x-amz-content-sha256 (UNSIGNED-PAYLOAD for streamed bodies):
  // libcurl 7.88 signs no payload hash of its own.
  std::string aws_sigv4;
  std::string userpwd;
};

struct Connection;
class Transport;

// One request in flight. The body is read with Read() until it returns 0.
// Not thread-safe; may move between threads. Destroying it before the body
// ends closes the connection (the pool keeps only finished ones).
class Response {
 public:
  ~Response();
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  int status() const { return status_; }
  const Headers& headers() const { return headers_; }
  const std::string* Header(std::string_view lowercase_name) const {
    return FindHeader(headers_, lowercase_name);
  }
  // The URL that answered (after redirects).
  const std::string& url() const { return url_; }

  // Reads up to n body bytes; 0 at the end. kIo when the body is cut short.
  Result<size_t> Read(char* buf, size_t n);
  // Reads the rest of the body; kInvalidArgument when it exceeds `limit`.
  Result<std::string> ReadAll(size_t limit);
  // Reads and discards at most `limit` bytes so the connection can be reused.
  void Drain(size_t limit = 64 * 1024);

 private:
  friend class Transport;
  friend struct Callbacks;
  Response(Transport* t, Connection* c) : transport_(t), conn_(c) {}
  Status Begin(const Request& req);
  Status Pump();  // one round of network I/O, bounded wait
  Status Failure();

  Transport* transport_;
  Connection* conn_;
  void* header_list_ = nullptr;  // curl_slist*
  std::string method_;
  bool follow_ = false;

  int status_ = 0;
  Headers headers_;
  std::string url_;
  bool head_done_ = false;
  bool done_ = false;
  int result_ = 0;  // CURLcode when done_
  std::string error_buf_;

  std::string buf_;  // body bytes received, not yet read
  size_t buf_off_ = 0;
  bool paused_ = false;

  const std::string* small_body_ = nullptr;
  size_t small_off_ = 0;
  ByteSource* source_ = nullptr;
  Status source_status_;
  // Request::body's copy, or the shared body, alive for the transfer.
  std::shared_ptr<const std::string> request_body_;

  int64_t last_activity_ms_ = 0;
  uint64_t activity_ = 0;  // callbacks seen; Pump waits only when none came
};

// A pool of keep-alive connections. Thread-safe: Start() may be called from
// many threads at once; each Response uses its own connection.
class Transport {
 public:
  explicit Transport(TransportOptions options);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Sends `req` and waits for the response status and headers (the body of
  // a streamed request is sent meanwhile). Errors: see the file comment; a
  // body_source's own read error is returned as it is.
  Result<std::unique_ptr<Response>> Start(const Request& req);

  const TransportOptions& options() const { return options_; }

 private:
  friend class Response;
  Connection* Acquire();
  void Release(Connection* c);

  TransportOptions options_;
  std::string ca_blob_;  // system bundle + ca_file, when ca_file is set
  Status ca_status_;     // why ca_file could not be used
  std::mutex mu_;
  std::vector<Connection*> idle_;
};

// Percent-encodes a query parameter value.
std::string UrlEncode(std::string_view s);

}  // namespace hoist::http_client
