#include "builder/dockerapi/http_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string_view>
#include <thread>

#include "common/url.h"

namespace hoist::dockerapi {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

constexpr size_t kHeaderLimit = 64 * 1024;
// A handler that left part of a body unread: up to this much is read and
// dropped to keep the connection; beyond it the connection closes.
constexpr size_t kDrainLimit = 1 << 20;
constexpr int kShutdownGraceSec = 10;
constexpr size_t kReadBuffer = 256 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The request body, read through the parser (which undoes chunking).
template <class Socket>
class BodySource : public ByteSource {
 public:
  BodySource(Socket& sock, beast::flat_buffer& buf, http::request_parser<http::buffer_body>& p,
             bool send_continue)
      : sock_(sock), buf_(buf), p_(p), send_continue_(send_continue) {}

  Result<size_t> Read(char* out, size_t n) override {
    if (send_continue_) {
      send_continue_ = false;
      static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      beast::error_code ec;
      net::write(sock_, net::buffer(kContinue, sizeof kContinue - 1), ec);
      if (ec) return Status(Code::kIo, "request body: " + ec.message());
    }
    while (!p_.is_done()) {
      p_.get().body().data = out;
      p_.get().body().size = n;
      beast::error_code ec;
      http::read(sock_, buf_, p_, ec);
      if (ec == http::error::need_buffer) ec = {};
      if (ec) return Status(Code::kIo, "request body: " + ec.message());
      size_t got = n - p_.get().body().size;
      if (got > 0) return got;
    }
    return size_t{0};
  }

 private:
  Socket& sock_;
  beast::flat_buffer& buf_;
  http::request_parser<http::buffer_body>& p_;
  bool send_continue_;
};

template <class Socket>
class Writer : public ResponseWriter {
 public:
  Writer(Socket& sock, const beast::flat_buffer& buf, bool head, unsigned version, bool keep_alive)
      : sock_(sock), buf_(buf), head_(head), version_(version), keep_alive_(keep_alive) {}

  void Set(std::string name, std::string value) override {
    headers_.emplace_back(std::move(name), std::move(value));
  }

  Status Send(int status, std::string_view content_type, std::string body) override {
    started_ = true;
    beast::error_code ec;
    if (head_) {
      http::response<http::empty_body> res{static_cast<http::status>(status), version_};
      Fill(res, content_type);
      res.content_length(body.size());
      http::response_serializer<http::empty_body> sr{res};
      http::write_header(sock_, sr, ec);
    } else {
      http::response<http::string_body> res{static_cast<http::status>(status), version_};
      Fill(res, content_type);
      res.body() = std::move(body);
      res.prepare_payload();
      http::write(sock_, res, ec);
    }
    return Check(ec);
  }

  Status Begin(int status, std::string_view content_type) override {
    started_ = true;
    streaming_ = true;
    http::response<http::empty_body> res{static_cast<http::status>(status), version_};
    Fill(res, content_type);
    res.chunked(true);
    http::response_serializer<http::empty_body> sr{res};
    beast::error_code ec;
    http::write_header(sock_, sr, ec);
    return Check(ec);
  }

  Status Write(std::string_view data) override {
    if (failed_) return Status(Code::kIo, "client connection closed");
    if (data.empty() || head_) return Status::Ok();
    beast::error_code ec;
    net::write(sock_, http::make_chunk(net::const_buffer(data.data(), data.size())), ec);
    return Check(ec);
  }

  Status End() override {
    if (ended_) return Status::Ok();
    ended_ = true;
    if (failed_) return Status(Code::kIo, "client connection closed");
    beast::error_code ec;
    if (!head_) net::write(sock_, http::make_chunk_last(), ec);
    return Check(ec);
  }

  bool started() const override { return started_; }

  Result<int> Upgrade(std::string_view protocol) override {
    if (started_) return Status(Code::kConflict, "the response has started");
    if (buf_.size() != 0) {
      // They are not HTTP: the refusal ends the connection.
      keep_alive_ = false;
      return Status(Code::kConflict, "bytes after the upgrade request");
    }
    started_ = true;
    std::string head = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ";
    head.append(protocol);
    head += "\r\n\r\n";
    beast::error_code ec;
    net::write(sock_, net::buffer(head), ec);
    if (ec) return Check(ec);
    int fd = ::fcntl(sock_.native_handle(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return ErrnoStatus("dup", "the upgraded connection");
    upgraded_ = true;
    return fd;
  }
  bool upgraded() const { return upgraded_; }
  bool keeps_alive() const { return keep_alive_; }
  bool streaming_open() const { return streaming_ && !ended_; }
  bool failed() const { return failed_; }

 private:
  template <class Res>
  void Fill(Res& res, std::string_view content_type) {
    res.set(http::field::server, "hoist-engine");
    if (!content_type.empty()) res.set(http::field::content_type, content_type);
    for (const auto& [k, v] : headers_) res.set(k, v);
    res.keep_alive(keep_alive_);
  }
  Status Check(const beast::error_code& ec) {
    if (!ec) return Status::Ok();
    failed_ = true;
    return Status(Code::kIo, "writing the response: " + ec.message());
  }

  Socket& sock_;
  const beast::flat_buffer& buf_;
  bool head_;
  unsigned version_;
  bool keep_alive_;
  std::vector<std::pair<std::string, std::string>> headers_;
  bool started_ = false, streaming_ = false, ended_ = false, failed_ = false;
  bool upgraded_ = false;
};

// Reads one request head into `p`. RFC 9112, section 2.2: a recipient MAY
// take a bare LF as a line terminator, and Engine API clients rely on it
// (Docker.DotNet ends header lines with Environment.NewLine, "\n" on
// Linux; Go's net/http, under dockerd, accepts that). Beast does not, so
// the head, up to its blank line, is normalised to CRLF before Beast
// parses it; the body's bytes stay as they came.
template <class Socket>
void ReadHead(Socket& sock, beast::flat_buffer& buf, http::request_parser<http::buffer_body>& p,
              beast::error_code& ec) {
  size_t scanned = 0;
  while (true) {
    std::string_view data(static_cast<const char*>(buf.data().data()), buf.size());
    size_t end = std::string_view::npos;
    for (size_t i = std::max<size_t>(scanned, 1); i < data.size(); ++i) {
      if (data[i] != '\n') continue;
      if (data[i - 1] == '\n' || (data[i - 1] == '\r' && i >= 2 && data[i - 2] == '\n')) {
        end = i + 1;
        break;
      }
    }
    if (end != std::string_view::npos) {
      std::string head;
      head.reserve(end + 64);
      for (size_t i = 0; i < end; ++i) {
        if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r')) head += '\r';
        head += data[i];
      }
      buf.consume(end);
      p.put(net::buffer(head), ec);
      if (!ec && !p.is_header_done()) ec = http::error::partial_message;
      return;
    }
    if (data.size() > kHeaderLimit) {
      ec = http::error::header_limit;
      return;
    }
    scanned = data.size();
    size_t n = sock.read_some(buf.prepare(kReadBuffer), ec);
    if (ec) {
      if ((ec == net::error::eof) && buf.size() == 0) ec = http::error::end_of_stream;
      return;
    }
    buf.commit(n);
  }
}

// Answers a request Beast could not parse, then the connection closes.
template <class Socket>
void SendBadRequest(Socket& sock, const beast::error_code& why) {
  int status = why == http::error::header_limit ? 431 : 400;
  http::response<http::string_body> res{static_cast<http::status>(status), 11};
  res.set(http::field::content_type, "application/json");
  res.body() = std::string("{\"message\":\"bad request: ") + why.message() + "\"}\n";
  res.keep_alive(false);
  res.prepare_payload();
  beast::error_code ec;
  http::write(sock, res, ec);
}

}  // namespace

std::optional<std::string> Request::Query(std::string_view key) const {
  return url::QueryValue(query, key);
}

std::vector<std::string> Request::QueryAll(std::string_view key) const {
  return url::QueryValues(query, key);
}

bool Request::QueryBool(std::string_view key) const {
  std::optional<std::string> v = Query(key);
  if (!v) return false;
  std::string l = Lower(*v);
  return l == "1" || l == "true" || l == "yes";
}

const std::string* Request::Header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? nullptr : &it->second;
}

struct Server::Impl {
  explicit Impl(Handler h) : handler(std::move(h)) {}

  template <class Socket>
  void Serve(Socket sock) {
    beast::flat_buffer buf;
    // Beast reads as much as the buffer has room for (512 bytes at the
    // least): without room, a 100 MiB context takes 200,000 recv calls.
    buf.reserve(kReadBuffer);
    for (;;) {
      http::request_parser<http::buffer_body> parser;
      parser.body_limit(boost::none);  // bodies stream to their handler
      parser.header_limit(kHeaderLimit);
      beast::error_code ec;
      ReadHead(sock, buf, parser, ec);
      if (ec) {
        if (ec != http::error::end_of_stream && ec != net::error::eof &&
            ec != net::error::connection_reset && ec != net::error::bad_descriptor &&
            ec != net::error::operation_aborted && ec != net::error::shut_down) {
          SendBadRequest(sock, ec);
        }
        break;
      }
      auto& msg = parser.get();
      Request req;
      req.method = std::string(msg.method_string());
      req.target = std::string(msg.target());
      url::SplitTarget(req.target, &req.path, &req.query);
      for (const auto& f : msg) req.headers[Lower(f.name_string())] = std::string(f.value());
      const std::string* expect = req.Header("expect");
      BodySource<Socket> body(sock, buf, parser,
                              expect != nullptr && Lower(*expect) == "100-continue");
      req.body_ = &body;
      // The writer starts from the request's keep-alive and only turns it off.
      Writer<Socket> w(sock, buf, req.method == "HEAD", msg.version(), msg.keep_alive());
      handler(req, w);
      if (w.upgraded()) {
        // The handler owns a duplicate of the socket now: close ours
        // without shutting the connection down.
        beast::error_code ec;
        sock.close(ec);
        return;
      }
      if (!w.started()) w.Send(500, "application/json", "{\"message\":\"no response\"}\n");
      if (w.streaming_open()) w.End();
      if (w.failed() || stopping.load()) break;
      // Drop what the handler left of the body, within bounds.
      std::vector<char> sink(64 * 1024);
      size_t drained = 0;
      while (!parser.is_done() && drained < kDrainLimit) {
        Result<size_t> n = body.Read(sink.data(), sink.size());
        if (!n.ok() || *n == 0) break;
        drained += *n;
      }
      if (!parser.is_done() || !w.keeps_alive()) break;
    }
    beast::error_code ec;
    sock.shutdown(net::socket_base::shutdown_both, ec);
    sock.close(ec);
  }

  // Accepts on `acceptor` until stopping, a thread per connection.
  template <class Acceptor>
  void AcceptLoop(Acceptor& acceptor) {
    while (!stopping.load()) {
      pollfd fds[2] = {{acceptor.native_handle(), POLLIN, 0}, {wake[0], POLLIN, 0}};
      int r = ::poll(fds, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 || (fds[1].revents & POLLIN) != 0) break;
      typename Acceptor::protocol_type::socket sock(ioc);
      beast::error_code ec;
      acceptor.accept(sock, ec);
      if (ec) continue;
      int fd = sock.native_handle();
      {
        std::lock_guard<std::mutex> lock(mu);
        conns.insert(fd);
        ++active;
      }
      std::thread([this, fd, s = std::move(sock)]() mutable {
        Serve(std::move(s));
        std::lock_guard<std::mutex> lock(mu);
        conns.erase(fd);
        if (--active == 0) done.notify_all();
      }).detach();
    }
  }

  Handler handler;
  net::io_context ioc;
  std::optional<net::ip::tcp::acceptor> tcp;
  std::optional<net::local::stream_protocol::acceptor> local;
  std::string unix_path;
  int wake[2] = {-1, -1};
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable done;
  std::set<int> conns;  // guarded by mu
  int active = 0;       // guarded by mu
};

Server::Server(Handler handler) : impl_(std::make_unique<Impl>(std::move(handler))) {
  if (::pipe2(impl_->wake, O_CLOEXEC) != 0) impl_->wake[0] = impl_->wake[1] = -1;
}

Server::~Server() {
  if (!impl_->unix_path.empty()) ::unlink(impl_->unix_path.c_str());
  for (int fd : impl_->wake) {
    if (fd >= 0) ::close(fd);
  }
}

Status Server::ListenTcp(const std::string& host, int port) {
  beast::error_code ec;
  net::ip::address addr = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) return Status(Code::kInvalidArgument, "--addr: " + host + " is not an IP address");
  if (!addr.is_loopback()) {
    return Status(Code::kInvalidArgument,
                  "--addr: " + host +
                      " is not a loopback address (the Engine API has no authentication; "
                      "use a unix socket or 127.0.0.1)");
  }
  net::ip::tcp::endpoint ep(addr, static_cast<unsigned short>(port));
  auto& a = impl_->tcp.emplace(impl_->ioc);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    impl_->tcp.reset();
    return Status(Code::kIo,
                  "listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  net::ip::tcp::endpoint bound = a.local_endpoint(ec);
  std::string h = bound.address().to_string();
  if (bound.address().is_v6()) h = "[" + h + "]";
  address_ = "tcp://" + h + ":" + std::to_string(bound.port());
  return Status::Ok();
}

Status Server::ListenUnix(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status(Code::kInvalidArgument, "--socket: " + path + " exists and is not a socket");
    }
    ::unlink(path.c_str());  // stale: a live engine would hold its own
  }
  beast::error_code ec;
  auto& a = impl_->local.emplace(impl_->ioc);
  net::local::stream_protocol::endpoint ep(path);
  a.open(ep.protocol(), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    impl_->local.reset();
    return Status(Code::kIo, "listen on " + path + ": " + ec.message());
  }
  ::chmod(path.c_str(), 0660);
  impl_->unix_path = path;
  address_ = "unix://" + path;
  return Status::Ok();
}

void Server::Run() {
  if (impl_->tcp) impl_->AcceptLoop(*impl_->tcp);
  if (impl_->local) impl_->AcceptLoop(*impl_->local);
  std::unique_lock<std::mutex> lock(impl_->mu);
  // Idle keep-alive connections wait in read_header: end them.
  for (int fd : impl_->conns) ::shutdown(fd, SHUT_RD);
  impl_->done.wait_for(lock, std::chrono::seconds(kShutdownGraceSec),
                       [&] { return impl_->active == 0; });
}

void Server::Shutdown() {
  impl_->stopping.store(true);
  if (impl_->wake[1] >= 0) {
    char c = 1;
    [[maybe_unused]] ssize_t n = ::write(impl_->wake[1], &c, 1);
  }
}

}  // namespace hoist::dockerapi
