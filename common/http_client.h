// HTTP/1.1 client on Boost.Beast for the registry client and the S3
// driver: streams request and response bodies both ways (a response body is
// read in pull mode, like a file, straight into the caller's buffer, so a
// download can feed an upload without a thread or a whole-blob buffer),
// keeps connections alive in a small pool per origin, does TLS with
// OpenSSL: the system CAs plus an optional extra CA file, host names and IP
// addresses checked against the certificate. URLs, and the Location of a
// redirect, are read with Boost.URL. Registries are reached directly, with
// no proxy.
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
  int64_t body_length = -1;           // -1: sent chunked
  // GET/HEAD of blobs may redirect to storage: up to 5 redirects are
  // followed (RFC 9110 section 15.4), a 303 as a GET; an Authorization
  // header is not sent on to another origin.
  bool follow_redirects = false;
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
  Response(Transport* t, Connection* c) : transport_(t), conn_(c) {}
  // Writes the request on conn_ (`resource`: path and query; `host`: the
  // Host header) and reads the answer's status and headers.
  Status Exchange(const Request& req, const std::string& resource, const std::string& host,
                  bool drop_authorization);

  Transport* transport_;
  Connection* conn_;
  std::string method_;
  std::string url_;
  int status_ = 0;
  Headers headers_;
  bool done_ = false;       // the body has been read to its end
  bool reusable_ = false;   // the whole request went out; the answer may keep the connection
  bool got_bytes_ = false;  // any byte of an answer came back
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
  struct Tls;  // the OpenSSL client context
  // An idle connection to `origin` that the peer has not closed, or a new
  // one.
  Result<Connection*> Acquire(const std::string& origin, bool tls, const std::string& host,
                              const std::string& port);
  void Release(Connection* c, bool reusable);
  Result<std::unique_ptr<Response>> Once(const Request& req, const std::string& url,
                                         const std::string& method, bool drop_authorization);

  TransportOptions options_;
  std::unique_ptr<Tls> tls_;
  Status tls_status_;  // why the TLS context (the extra CA file) could not be made
  std::mutex mu_;
  std::vector<Connection*> idle_;
};

// Percent-encodes a query parameter value.
std::string UrlEncode(std::string_view s);

}  // namespace hoist::http_client
