#include "registry/http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "common/log.h"

namespace hoist::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kBufSize = 64 * 1024;
// A streamed body sent through user space: small enough to stay in L2.
constexpr size_t kSendChunk = 512 * 1024;

std::string_view ReasonPhrase(int status) {
  // One status per line reads as the table it is.
  // clang-format off
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
  // clang-format on
}

bool SendAll(int fd, const char* p, size_t n, int flags = 0) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL | flags);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Closing a socket with unread input makes the kernel send a reset, which
// can destroy the response before a client that is still sending its body
// reads it. So: stop writing, drain what the client still sends for a
// bounded time, then close (RFC 9112, section 9.6).
void LingeringClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  timeval tv{0, 500 * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  char sink[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t r = ::recv(fd, sink, sizeof sink, 0);
    if (r <= 0 && !(r < 0 && errno == EINTR)) break;
  }
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Asio needs an io_context to make a socket object; synchronous reads
// never run it.
net::io_context& SyncIoContext() {
  static net::io_context ioc;
  return ioc;
}

// An error status with no body; the connection closes after it.
std::string ErrorResponse(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(ReasonPhrase(status)) +
         "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
}
void SendError(int fd, int status) {
  std::string r = ErrorResponse(status);
  SendAll(fd, r.data(), r.size());
}

// What RFC 9112 says to refuse that Beast's parser lets through: 0 when
// the head is acceptable, else the status to answer before closing.
int RejectHead(const Request& req, unsigned version, bool chunked, bool has_length) {
  // Section 3.2: a client MUST send Host in HTTP/1.1.
  if (version >= 11 && req.Header("Host") == nullptr) return 400;
  // Origin form only (section 3.2.1); a registry has no proxy or CONNECT use.
  if (req.target.empty() || req.target[0] != '/') return 400;
  const std::string* te = req.Header("Transfer-Encoding");
  if (te != nullptr) {
    // Section 6.1: chunked must be the final coding; we know no other.
    if (!chunked) return 501;
    std::string_view v = *te;
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    if (!IEquals(v, "chunked")) return 501;
    // Section 6.3: Content-Length with Transfer-Encoding may be smuggling.
    if (has_length || req.Header("Content-Length") != nullptr) return 400;
    if (version < 11) return 400;  // chunked is not HTTP/1.0
  }
  return 0;
}

}  // namespace

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

const std::string* Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return &v;
  }
  return nullptr;
}

std::optional<std::string> Request::Query(std::string_view key) const {
  return url::QueryValue(query, key);
}

std::vector<std::string> Request::QueryAll(std::string_view key) const {
  return url::QueryValues(query, key);
}

// One connection. Boost.Beast parses each request head (request line,
// fields, framing: RFC 9112) and chunked bodies; a body with a
// Content-Length, once Beast has framed it, is read straight from the
// socket into the handler's buffer, sparing a copy of every pushed byte.
struct Server::Conn : public ByteSource {
  net::ip::tcp::socket sock;
  // Set when the server speaks TLS: every byte then goes through it.
  std::optional<net::ssl::stream<net::ip::tcp::socket&>> tls;
  int fd;
  std::string remote;
  bool loopback = false;  // the peer is this machine (127.0.0.0/8, ::1)
  bool idle = true;       // guarded by Server::mu_
  // The head must be complete by then (ms since the steady clock's epoch;
  // 0: no deadline); the reaper shuts the socket's reading side down after.
  std::atomic<int64_t> head_deadline_ms{0};
  std::atomic<bool> timed_out{false};
  beast::flat_buffer buf;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser;

  // Body state of the current request.
  bool expect_continue = false;
  bool continue_sent = false;
  bool direct = true;     // a Content-Length body (or none), read from the socket
  int64_t remaining = 0;  // direct: bytes of the body left
  bool body_error = false;
  int64_t body_read = 0;

  Conn(net::io_context& ioc, int f, bool v6, std::string r)
      : sock(ioc), fd(f), remote(std::move(r)) {
    beast::error_code ec;
    sock.assign(v6 ? net::ip::tcp::v6() : net::ip::tcp::v4(), f, ec);
    buf.reserve(kBufSize);
  }

  // Writes all n bytes (more: further bytes follow at once).
  bool Send(const char* p, size_t n, bool more = false) {
    if (!tls) return SendAll(fd, p, n, more ? MSG_MORE : 0);
    beast::error_code ec;
    net::write(*tls, net::buffer(p, n), ec);
    return !ec;
  }
  // Reads at most n bytes straight from the connection; <= 0 at the end.
  ssize_t RecvSome(char* out, size_t n) {
    if (tls) {
      beast::error_code ec;
      size_t got = tls->read_some(net::buffer(out, n), ec);
      return ec ? -1 : static_cast<ssize_t>(got);
    }
    while (true) {
      ssize_t r = ::recv(fd, out, n, 0);
      if (r < 0 && errno == EINTR) continue;
      return r;
    }
  }
  // Beast's read_header over whichever stream the connection has.
  void ReadHeader(beast::error_code& ec) {
    if (tls) {
      bhttp::read_header(*tls, buf, *parser, ec);
    } else {
      bhttp::read_header(sock, buf, *parser, ec);
    }
  }
  void ReadBody(beast::error_code& ec) {
    if (tls) {
      bhttp::read(*tls, buf, *parser, ec);
    } else {
      bhttp::read(sock, buf, *parser, ec);
    }
  }

  void SendError(int status) {
    std::string r = ErrorResponse(status);
    Send(r.data(), r.size());
  }

  void MaybeSendContinue() {
    if (expect_continue && !continue_sent) {
      continue_sent = true;
      static const char k100[] = "HTTP/1.1 100 Continue\r\n\r\n";
      Send(k100, sizeof k100 - 1);
    }
  }

  bool BodyDone() const { return direct ? remaining == 0 : parser->is_done(); }

  Result<size_t> Read(char* out, size_t n) override {
    if (body_error) return Status(Code::kIo, "request body: connection failed");
    if (BodyDone() || n == 0) return size_t{0};
    MaybeSendContinue();
    if (direct) {
      size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(n), remaining));
      size_t got = 0;
      if (buf.size() > 0) {  // what Beast read past the head
        got = std::min(want, buf.size());
        std::memcpy(out, buf.data().data(), got);
        buf.consume(got);
      } else {
        ssize_t r = RecvSome(out, want);
        if (r <= 0) return Fail("connection closed before the body ended");
        got = static_cast<size_t>(r);
      }
      remaining -= static_cast<int64_t>(got);
      body_read += static_cast<int64_t>(got);
      return got;
    }
    while (!parser->is_done()) {
      parser->get().body().data = out;
      parser->get().body().size = n;
      beast::error_code ec;
      ReadBody(ec);
      if (ec == bhttp::error::need_buffer) ec = {};
      if (ec)
        return Fail(ec == bhttp::error::partial_message
                        ? "connection closed before the body ended"
                        : "bad chunked framing (" + ec.message() + ")");
      size_t got = n - parser->get().body().size;
      if (got > 0) {
        body_read += static_cast<int64_t>(got);
        return got;
      }
    }
    return size_t{0};
  }

  Status Fail(const std::string& why) {
    body_error = true;
    return Status(Code::kIo, "request body: " + why);
  }
};

Server::Server(Handler handler, ServerOptions options)
    : handler_(std::move(handler)), opt_(options) {}

Server::~Server() {
  if (listen_fd_ >= 0) ::close(listen_fd_);
  for (int fd : wake_pipe_) {
    if (fd >= 0) ::close(fd);
  }
}

Status Server::Listen(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string h = host;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string p = std::to_string(port);
  int rc = ::getaddrinfo(h.empty() ? nullptr : h.c_str(), p.c_str(), &hints, &res);
  if (rc != 0) return Status(Code::kInvalidArgument, "resolve " + host + ": " + gai_strerror(rc));
  Status last(Code::kIo, "no address for " + host);
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, 1024) != 0) {
      last = ErrnoStatus("listen on", host + ":" + p);
      ::close(fd);
      continue;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
    char name[INET6_ADDRSTRLEN] = {};
    int bound_port = 0;
    if (ss.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      ::inet_ntop(AF_INET6, &a->sin6_addr, name, sizeof name);
      bound_port = ntohs(a->sin6_port);
      bound_ = "[" + std::string(name) + "]:" + std::to_string(bound_port);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      ::inet_ntop(AF_INET, &a->sin_addr, name, sizeof name);
      bound_port = ntohs(a->sin_port);
      bound_ = std::string(name) + ":" + std::to_string(bound_port);
    }
    listen_fd_ = fd;
    break;
  }
  ::freeaddrinfo(res);
  if (listen_fd_ < 0) return last;
  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoStatus("pipe", "wake");
  return Status::Ok();
}

void Server::Run() {
  // Slow clients: a head not complete by its deadline loses its reading
  // side, so its read_header fails and it gets 408.
  std::thread reaper([this] {
    std::unique_lock<std::mutex> l(mu_);
    while (!stopping_) {
      reaper_wake_.wait_for(l, std::chrono::milliseconds(100));
      int64_t now = SteadyMs();
      for (Conn* c : conns_) {
        int64_t d = c->head_deadline_ms.load();
        if (d != 0 && now > d && !c->timed_out.exchange(true)) ::shutdown(c->fd, SHUT_RD);
      }
    }
  });
  while (!stopping_.load()) {
    pollfd pfds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    int n = ::poll(pfds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (pfds[1].revents) break;
    if (!(pfds[0].revents & POLLIN)) continue;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
    if (fd < 0) continue;
    char name[INET6_ADDRSTRLEN] = {};
    bool loopback;
    if (ss.ss_family == AF_INET6) {
      const in6_addr& a6 = reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr;
      ::inet_ntop(AF_INET6, &a6, name, sizeof name);
      loopback = IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    } else {
      const in_addr& a4 = reinterpret_cast<sockaddr_in*>(&ss)->sin_addr;
      ::inet_ntop(AF_INET, &a4, name, sizeof name);
      loopback = (ntohl(a4.s_addr) >> 24) == 127;
    }
    bool full;
    {
      std::lock_guard<std::mutex> l(mu_);
      // Threads not yet registered count through per_client_ already.
      full = static_cast<int>(conns_.size()) >= opt_.max_connections ||
             per_client_[name] >= opt_.max_connections_per_client;
      if (!full) ++per_client_[name];
    }
    if (full) {
      SendError(fd, 503);
      ::close(fd);
      continue;
    }
    std::thread(&Server::ServeConnection, this, fd, std::string(name), loopback,
                ss.ss_family == AF_INET6)
        .detach();
  }
  ::close(listen_fd_);
  listen_fd_ = -1;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  reaper_wake_.notify_all();
  reaper.join();
  // Grace period: busy connections finish their request; idle ones were
  // shut down by Shutdown().
  std::unique_lock<std::mutex> l(mu_);
  all_done_.wait_for(l, std::chrono::seconds(opt_.shutdown_grace_sec),
                     [this] { return conns_.empty(); });
}

void Server::Shutdown() {
  std::lock_guard<std::mutex> l(mu_);
  if (stopping_.exchange(true)) return;
  char c = 1;
  (void)!::write(wake_pipe_[1], &c, 1);
  for (Conn* conn : conns_) {
    if (conn->idle) ::shutdown(conn->fd, SHUT_RDWR);
  }
}

namespace {

// An OpenSSL server context: TLS 1.2 and 1.3 only, the certificate chain
// and key, and with a client CA, certificates required of clients.
Result<std::shared_ptr<net::ssl::context>> MakeTlsContext(const TlsFiles& f) {
  auto ctx = std::make_shared<net::ssl::context>(net::ssl::context::tls_server);
  SSL_CTX* c = ctx->native_handle();
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // AES-128-GCM first, as Go's crypto/tls (distribution) picks on CPUs with
  // AES instructions: the same strength class for a registry's traffic, and
  // a quarter less work per byte than AES-256-GCM on large blobs.
  SSL_CTX_set_ciphersuites(c,
                           "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
                           "TLS_CHACHA20_POLY1305_SHA256");
  SSL_CTX_set_cipher_list(c,
                          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305");
  auto openssl_error = [](const std::string& what) {
    unsigned long e = ERR_get_error();
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return Status(Code::kInvalidArgument, what + ": " + buf);
  };
  if (SSL_CTX_use_certificate_chain_file(c, f.cert.c_str()) != 1) {
    return openssl_error("TLS certificate " + f.cert);
  }
  if (SSL_CTX_use_PrivateKey_file(c, f.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    return openssl_error("TLS key " + f.key);
  }
  if (SSL_CTX_check_private_key(c) != 1) {
    return openssl_error("TLS key " + f.key + " does not match " + f.cert);
  }
  if (!f.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(c, f.client_ca.c_str(), nullptr) != 1) {
      return openssl_error("TLS client CA " + f.client_ca);
    }
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return ctx;
}

}  // namespace

Status Server::EnableTls(const TlsFiles& files) {
  Result<std::shared_ptr<net::ssl::context>> ctx = MakeTlsContext(files);
  if (!ctx.ok()) return ctx.status();
  std::lock_guard<std::mutex> l(tls_mu_);
  tls_files_ = files;
  tls_ = std::move(*ctx);
  return Status::Ok();
}

Status Server::ReloadTls() {
  TlsFiles files;
  {
    std::lock_guard<std::mutex> l(tls_mu_);
    if (!tls_) return Status::Ok();
    files = tls_files_;
  }
  return EnableTls(files);  // connections already open keep the old context
}

std::shared_ptr<net::ssl::context> Server::TlsContext() {
  std::lock_guard<std::mutex> l(tls_mu_);
  return tls_;
}

void Server::ServeSocket(int fd, std::string remote) {
  {
    std::lock_guard<std::mutex> l(mu_);
    ++per_client_[remote];  // as the accept loop counts its connections
  }
  ServeConnection(fd, std::move(remote), /*loopback=*/true, /*v6=*/false);
}

void Server::ServeConnection(int fd, std::string remote, bool loopback, bool v6) {
  Conn conn(SyncIoContext(), fd, v6, std::move(remote));
  conn.loopback = loopback;
  {
    std::lock_guard<std::mutex> l(mu_);
    conns_.insert(&conn);
    if (stopping_) ::shutdown(fd, SHUT_RDWR);
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{opt_.io_timeout_sec, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);

  bool linger = false;
  if (std::shared_ptr<net::ssl::context> ctx = TlsContext()) {
    // The handshake is due with the first head's deadline.
    conn.tls.emplace(conn.sock, *ctx);
    conn.head_deadline_ms = SteadyMs() + int64_t{opt_.head_timeout_sec} * 1000;
    beast::error_code ec;
    conn.tls->handshake(net::ssl::stream_base::server, ec);
    conn.head_deadline_ms = 0;
    if (ec) {
      if (log::Enabled(log::Level::kDebug)) {
        log::Debug("TLS handshake failed", {{"remote", conn.remote}, {"error", ec.message()}});
      }
      std::lock_guard<std::mutex> l(mu_);
      conns_.erase(&conn);
      if (--per_client_[conn.remote] <= 0) per_client_.erase(conn.remote);
      beast::error_code ignored;
      conn.sock.close(ignored);
      if (conns_.empty()) all_done_.notify_all();
      return;
    }
  }
  while (true) {
    // Idle: wait for the next request (bounded), unless the buffer has one.
    // Over TLS, a request may already sit decrypted-to-be in the TLS
    // stream's buffers, where poll(2) cannot see it: the head read itself
    // waits there, with the idle limit as its deadline.
    if (conn.buf.size() == 0 && !conn.tls) {
      pollfd p{fd, POLLIN, 0};
      int n = ::poll(&p, 1, opt_.idle_timeout_sec * 1000);
      if (n <= 0) break;
    }
    {
      std::lock_guard<std::mutex> l(mu_);
      if (stopping_) break;
      conn.idle = conn.tls.has_value() && conn.buf.size() == 0;
    }
    auto start = std::chrono::steady_clock::now();
    Request req;
    Response resp;

    // The head, parsed by Beast, complete within head_timeout_sec
    // (slow clients get 408).
    conn.parser.emplace();
    conn.parser->header_limit(kMaxHeadBytes);
    conn.parser->body_limit(boost::none);  // bodies stream to the handler
    const bool waiting = conn.tls && conn.buf.size() == 0;
    conn.head_deadline_ms =
        SteadyMs() + int64_t{waiting ? opt_.idle_timeout_sec : opt_.head_timeout_sec} * 1000;
    beast::error_code ec;
    conn.ReadHeader(ec);
    conn.head_deadline_ms = 0;
    {
      std::lock_guard<std::mutex> l(mu_);
      conn.idle = false;
    }
    if (ec && conn.timed_out && waiting && conn.buf.size() == 0) break;  // idle: just close
    if (ec) {
      if (conn.timed_out) {
        conn.SendError(408);
      } else if (ec == bhttp::error::header_limit) {
        // The request line alone too long (Beast has not parsed it): 414;
        // else the fields: 431.
        conn.SendError(conn.parser->get().target().empty() ? 414 : 431);
      } else if (ec != bhttp::error::end_of_stream && ec != net::error::eof &&
                 ec != net::error::connection_reset && ec != net::error::shut_down &&
                 ec != net::error::operation_aborted && ec != net::error::bad_descriptor) {
        conn.SendError(400);
      }
      break;
    }
    const auto head_read = std::chrono::steady_clock::now();
    const auto& msg = conn.parser->get();
    req.method = std::string(msg.method_string());
    req.target = std::string(msg.target());
    for (const auto& f : msg) req.headers.emplace_back(f.name_string(), f.value());
    int reject = RejectHead(req, msg.version(), conn.parser->chunked(),
                            conn.parser->content_length().has_value());
    if (reject != 0) {
      conn.SendError(reject);
      break;
    }
    url::SplitTarget(req.target, &req.path, &req.query);
    req.remote = conn.remote;
    req.tls = conn.tls.has_value();
    bool keep_alive = msg.keep_alive();
    conn.direct = !conn.parser->chunked();
    conn.remaining =
        conn.direct ? static_cast<int64_t>(conn.parser->content_length().value_or(0)) : 0;
    conn.body_error = false;
    conn.body_read = 0;
    req.chunked = conn.parser->chunked();
    req.content_length = conn.direct && conn.parser->content_length()
                             ? static_cast<int64_t>(*conn.parser->content_length())
                             : -1;
    const std::string* expect = req.Header("Expect");
    conn.expect_continue = expect && IEquals(*expect, "100-continue");
    conn.continue_sent = false;
    req.body_ = &conn;

    handler_(req, resp);

    // A body the handler did not read: drain a little, else close, so the
    // next request on this connection starts at a request line.
    if (!conn.BodyDone()) {
      if (conn.expect_continue && !conn.continue_sent) {
        keep_alive = false;  // the client may never send it
      } else if (!conn.body_error && (!conn.direct || conn.remaining <= 1 << 20)) {
        char sink[16384];
        while (!conn.BodyDone()) {
          Result<size_t> r = conn.Read(sink, sizeof sink);
          if (!r.ok() || *r == 0) break;
        }
        if (!conn.BodyDone()) keep_alive = false;
      } else {
        keep_alive = false;
      }
    }
    if (conn.body_error) keep_alive = false;
    if (stopping_) keep_alive = false;

    bool is_head = req.method == "HEAD";
    int64_t length = resp.stream ? resp.stream_length : static_cast<int64_t>(resp.body.size());
    if (is_head && resp.head_length) length = *resp.head_length;
    std::string head = "HTTP/1.1 " + std::to_string(resp.status) + " " +
                       std::string(ReasonPhrase(resp.status)) + "\r\n";
    for (const auto& [k, v] : resp.headers) head += k + ": " + v + "\r\n";
    if (resp.status != 204 && resp.status != 304) {
      head += "Content-Length: " + std::to_string(length) + "\r\n";
    }
    head += keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n";
    bool sent_ok = true;
    if (is_head || (!resp.stream && resp.body.empty())) {
      sent_ok = conn.Send(head.data(), head.size());
    } else if (!resp.stream) {
      head += resp.body;
      sent_ok = conn.Send(head.data(), head.size());
    } else {
      sent_ok = conn.Send(head.data(), head.size(), /*more=*/true);
      int64_t left = resp.stream_length;
      // sendfile(2) spares the copy into user space. On loopback, though,
      // the receiver then copies every byte out of the page cache, while
      // bytes sent from a buffer that stays in the CPU's cache reach it from
      // socket buffers still in cache: there, reading into a 512 KiB buffer
      // and sending it pulls a 1 GiB blob about 1.7x faster.
      // (Over TLS every byte is encrypted in user space: the buffer path.)
      if (resp.stream_fd >= 0 && !conn.tls && (!conn.loopback || opt_.sendfile_to_loopback)) {
        while (sent_ok && left > 0) {
          ssize_t w = ::sendfile(fd, resp.stream_fd, nullptr,
                                 static_cast<size_t>(std::min<int64_t>(left, 1 << 30)));
          if (w < 0 && errno == EINTR) continue;
          sent_ok = w > 0;
          if (sent_ok) left -= w;
        }
      } else {
        // No larger than the body: small blobs and Range slices are common.
        std::vector<char> chunk(
            static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(kSendChunk))));
        while (sent_ok && left > 0) {
          Result<size_t> r = resp.stream->Read(
              chunk.data(), static_cast<size_t>(std::min<int64_t>(left, chunk.size())));
          if (!r.ok() || *r == 0) {
            sent_ok = false;
            break;
          }
          sent_ok = conn.Send(chunk.data(), *r);
          left -= static_cast<int64_t>(*r);
        }
      }
    }
    resp.stream.reset();
    auto done = std::chrono::steady_clock::now();
    if (opt_.observer) {
      opt_.observer(req, resp,
                    Exchange{conn.body_read, is_head ? 0 : length,
                             std::chrono::duration<double>(done - head_read).count()});
    }
    if (opt_.access_log && log::Enabled(log::Level::kInfo)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(done - start).count();
      log::Info("request", {{"remote", conn.remote},
                            {"method", req.method},
                            {"uri", req.target.substr(0, 512)},
                            {"status", std::to_string(resp.status)},
                            {"in", std::to_string(conn.body_read)},
                            {"out", std::to_string(is_head ? 0 : length)},
                            {"ms", std::to_string(us / 1000.0)}});
    }
    if (!sent_ok || !keep_alive) {
      linger = sent_ok && !conn.BodyDone();
      break;
    }
    std::lock_guard<std::mutex> l(mu_);
    conn.idle = true;
    if (stopping_) break;
  }
  if (conn.tls) {
    beast::error_code ignored;
    conn.tls->shutdown(ignored);  // close_notify; the peer's answer is not awaited long
  } else if (linger) {
    LingeringClose(fd);
  }
  std::lock_guard<std::mutex> l(mu_);
  conns_.erase(&conn);
  --per_client_[conn.remote];
  if (per_client_[conn.remote] <= 0) per_client_.erase(conn.remote);
  beast::error_code ignored;
  conn.sock.close(ignored);  // the socket owns fd
  if (conns_.empty()) all_done_.notify_all();
}

}  // namespace hoist::http
