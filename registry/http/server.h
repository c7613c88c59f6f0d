// The registry's HTTP/1.1 server, built for its two hot paths: multi-GiB
// request bodies streamed to disk, and many small keep-alive requests.
//
// Boost.Beast parses every request head and chunked body (RFC 9112: request
// line, fields, Content-Length and Transfer-Encoding framing); on top of
// it this file refuses what Beast lets through but the RFC says to refuse
// (no Host, codings other than chunked, Content-Length with
// Transfer-Encoding) and answers 408 to heads not complete in time, 414
// and 431 to oversized ones. What is ours is the I/O around the parser:
// a Content-Length body, once framed, is read straight into the handler's
// buffer; files go out with sendfile(2) (or a buffer, to loopback peers);
// each connection has its own thread (registry clients hold few,
// long-lived connections).
//
// Why not cpp-httplib (Debian's 0.11.4): it reads bodies in 4 KiB recv()
// calls with a poll() before each, has no sendfile, and ends keep-alive
// connections after 5 requests; measured here it took 2.4-3.8 s for a
// 1 GiB PUT and served about 1,000 small GETs/s to wrk.
//
// Supports: Content-Length and chunked request bodies, Expect: 100-continue,
// keep-alive, HEAD, limits on connections (total and per client address),
// graceful shutdown with a bounded grace period.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/io.h"
#include "common/status.h"
#include "common/url.h"

namespace boost::asio::ssl {
class context;
}

namespace hoist::http {

// TLS (OpenSSL, TLS 1.2 and 1.3): PEM files of the certificate chain and
// the key; a client CA makes client certificates required (mutual TLS).
struct TlsFiles {
  std::string cert, key, client_ca;
};

// Case-insensitive ASCII comparison for header names.
bool IEquals(std::string_view a, std::string_view b);

struct Request {
  std::string method;
  std::string target;                                      // as sent: path and query
  std::string path;                                        // percent-decoded, no query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;
  std::string remote;           // peer address
  bool tls = false;             // arrived over TLS
  int64_t content_length = -1;  // -1: chunked or none
  bool chunked = false;

  // First header with this name (case-insensitive), or nullptr.
  const std::string* Header(std::string_view name) const;
  // First query value with this key, or nullopt.
  std::optional<std::string> Query(std::string_view key) const;
  // All query values with this key.
  std::vector<std::string> QueryAll(std::string_view key) const;
  // True when the request declares a body (a length > 0, or chunked).
  bool HasBody() const { return chunked || content_length > 0; }
  // The request body, streamed from the connection. Reading it sends
  // "100 Continue" first when the client asked for it.
  ByteSource& body() { return *body_; }

  ByteSource* body_ = nullptr;  // set by the server
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // small bodies
  // A streamed body of `stream_length` bytes, read from `stream`. When
  // `stream_fd` >= 0 (the same file, positioned at the first byte to send),
  // it goes out with sendfile(2) to peers on other machines.
  std::unique_ptr<ByteSource> stream;
  int stream_fd = -1;
  int64_t stream_length = 0;
  // For HEAD: the Content-Length to announce without sending a body.
  std::optional<int64_t> head_length;

  void Set(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

using Handler = std::function<void(Request&, Response&)>;

// What one answered request cost: body bytes each way, and the time from
// its first byte to the last byte of its answer.
struct Exchange {
  int64_t bytes_in = 0, bytes_out = 0;
  double seconds = 0;
};
using Observer = std::function<void(const Request&, const Response&, const Exchange&)>;

struct ServerOptions {
  int idle_timeout_sec = 60;             // keep-alive connection idle limit
  int io_timeout_sec = 120;              // a stalled send or receive
  int max_connections = 2048;            // beyond this, new connections get 503
  int max_connections_per_client = 256;  // per client address, likewise
  int head_timeout_sec = 10;             // a request head must be complete by then (else 408)
  int shutdown_grace_sec = 10;           // in-flight requests get this long
  bool access_log = true;
  // Loopback peers get streamed bodies through a buffer, which is faster
  // there than sendfile(2); true gives them sendfile too (tests use it to
  // cover the path that peers on other machines take).
  bool sendfile_to_loopback = false;
  // Told of every request the handler answered, once its answer is sent.
  Observer observer;
};

class Server {
 public:
  Server(Handler handler, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Speaks TLS on every connection from now on. kInvalidArgument naming the
  // file when a certificate, key or CA does not load or match.
  Status EnableTls(const TlsFiles& files);
  // Loads the same files again (after a renewal; SIGHUP in `serve`): new
  // connections get the new certificate. On an error the old one stays.
  Status ReloadTls();
  bool tls() { return TlsContext() != nullptr; }
  // Binds and listens on host:port (port 0 picks a free one).
  Status Listen(const std::string& host, int port);
  // "host:port" actually bound, with [] around IPv6 hosts.
  std::string BoundAddress() const { return bound_; }
  // Accepts and serves until Shutdown; returns once every connection ended
  // or the grace period ran out. REQUIRES: Listen succeeded.
  void Run();
  // Stops accepting, closes idle connections, lets busy ones finish their
  // current request. Safe to call from any thread (not a signal handler).
  void Shutdown();
  // Serves one connected stream socket (TCP, or a socketpair in tests and
  // the fuzz target) on the calling thread until it ends; closes `fd`.
  void ServeSocket(int fd, std::string remote);

 private:
  struct Conn;
  void ServeConnection(int fd, std::string remote, bool loopback, bool v6);

  Handler handler_;
  ServerOptions opt_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::string bound_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable all_done_;
  std::set<Conn*> conns_;                  // guarded by mu_
  std::map<std::string, int> per_client_;  // open connections by address; guarded by mu_
  std::shared_ptr<boost::asio::ssl::context> TlsContext();
  std::mutex tls_mu_;
  TlsFiles tls_files_;                              // guarded by tls_mu_
  std::shared_ptr<boost::asio::ssl::context> tls_;  // guarded by tls_mu_
  std::condition_variable reaper_wake_;
};

// RFC 3986 percent-decoding and encoding (common/url.h).
using url::PercentDecode;
using url::PercentEncode;

}  // namespace hoist::http
