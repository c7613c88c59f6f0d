// The HTTP/1.1 server under `hoist engine`: Boost.Beast parses every byte
// that comes off the socket (request line, fields, Content-Length and
// chunked framing, RFC 9112); this file only accepts connections, hands
// each parsed request to one handler and writes its answer.
//
// Listens on a unix socket (the Docker Engine API's usual transport,
// DOCKER_HOST=unix://PATH) or on loopback TCP. One thread per connection:
// Engine API clients open few connections, and a build or a push holds its
// connection for as long as it runs, streaming progress.
//
// Responses are either whole (Send) or streamed with chunked transfer
// coding (Begin, Write..., End), which is how dockerd streams the JSON
// progress of build, pull and push and the tar of `docker save`.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/io.h"
#include "common/status.h"

namespace hoist::dockerapi {

struct Request {
  std::string method;
  std::string target;                                      // as sent
  std::string path;                                        // percent-decoded, no query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::map<std::string, std::string> headers;              // names lower-cased

  // The first query value for `key`, or nullopt.
  std::optional<std::string> Query(std::string_view key) const;
  std::vector<std::string> QueryAll(std::string_view key) const;
  // Query flags as the Engine API writes them: "1", "true", "True".
  bool QueryBool(std::string_view key) const;
  // A header by lower-case name, or nullptr.
  const std::string* Header(std::string_view lower_name) const;
  // The request body (de-chunked), streamed from the connection; empty
  // when the request has none.
  ByteSource& body() { return *body_; }

  ByteSource* body_ = nullptr;  // set by the server
};

// Writes one response. Not thread-safe: the handler's thread uses it.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  // Adds a header to the response (before Send or Begin).
  virtual void Set(std::string name, std::string value) = 0;
  // A whole response. For HEAD, the body is counted but not sent.
  virtual Status Send(int status, std::string_view content_type, std::string body) = 0;
  // Starts a streamed (chunked) response.
  virtual Status Begin(int status, std::string_view content_type) = 0;
  // One chunk of a streamed response. An error means the client is gone.
  virtual Status Write(std::string_view data) = 0;
  // Ends a streamed response (the last chunk).
  virtual Status End() = 0;
  // True once Send or Begin ran.
  virtual bool started() const = 0;
  // Answers 101 Switching Protocols (Connection: Upgrade, Upgrade:
  // `protocol`) and hands the connection over: the descriptor returned is
  // the caller's (to close), the server forgets the connection.
  // kConflict after Send or Begin, or when the client sent bytes
  // past the request before the answer (they would be lost).
  virtual Result<int> Upgrade(std::string_view protocol) = 0;
};

using Handler = std::function<void(Request&, ResponseWriter&)>;

class Server {
 public:
  explicit Server(Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Listens on loopback TCP (port 0 picks one). Hosts other than loopback
  // addresses are refused: the Engine API has no authentication.
  Status ListenTcp(const std::string& host, int port);
  // Listens on a unix socket at `path` (a stale socket file is replaced;
  // mode 0660).
  Status ListenUnix(const std::string& path);
  // "unix://PATH" or "tcp://HOST:PORT": what DOCKER_HOST should say.
  std::string Address() const { return address_; }

  // Accepts and serves until Shutdown; returns once every connection has
  // ended (connections idle or still streaming get 10 s).
  // REQUIRES: a Listen call succeeded.
  void Run();
  // Stops accepting and closes idle connections. Safe from any thread
  // (not from a signal handler).
  void Shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace hoist::dockerapi
