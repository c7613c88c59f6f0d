#include "common/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <cctype>
#include <chrono>
#include <optional>

#include "common/url.h"

namespace hoist::http_client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace urls = boost::urls;
using tcp = net::ip::tcp;
using error_code = beast::error_code;

// One connection to one origin, with its own io_context: each operation is
// started asynchronously and the context run until it completes, so the
// tcp_stream's expiry bounds it (Beast's timeouts apply to asynchronous
// operations only).
struct Connection {
  std::string origin;  // "https://host:port": what the pool matches on
  net::io_context ioc;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buf;
  std::optional<http::response_parser<http::buffer_body>> parser;
  bool reused = false;

  beast::tcp_stream& socket() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

struct Transport::Tls {
  net::ssl::context ctx{net::ssl::context::tls_client};
};

namespace {

constexpr size_t kMaxIdleConnections = 16;
constexpr int kMaxRedirects = 5;
constexpr size_t kBodyChunk = 256 * 1024;  // a streamed request body's pieces
constexpr uint32_t kHeaderLimit = 64 * 1024;
constexpr size_t kReadBuffer = 128 * 1024;

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// How an operation ended: the handler of any Asio/Beast operation.
struct Outcome {
  error_code ec;
  size_t bytes = 0;
  bool done = false;
};

auto Into(Outcome& o) {
  return [&o](error_code ec, auto&&... rest) {
    o.ec = ec;
    if constexpr (sizeof...(rest) == 1) {
      if constexpr ((std::is_convertible_v<decltype(rest), size_t> && ...)) o.bytes = (rest, ...);
    }
    o.done = true;
  };
}

// Runs `c`'s context until the operation that `start` began has completed;
// `limit` bounds it (beast::error::timeout).
template <class Start>
Outcome Await(Connection& c, std::chrono::seconds limit, Start start) {
  Outcome o;
  c.socket().expires_after(limit);
  start(Into(o));
  c.ioc.restart();
  while (!o.done && c.ioc.run_one() > 0) {
  }
  c.socket().expires_never();
  return o;
}

// Calls f with the connection's stream, TLS or plain.
template <class F>
auto WithStream(Connection& c, F&& f) {
  if (c.tls) return f(*c.tls);
  return f(*c.plain);
}

// A URL taken apart for a request.
struct Target {
  bool tls = false;
  std::string host;         // for the resolver and TLS: no brackets, decoded
  std::string port;         // explicit or the scheme's
  std::string host_header;  // RFC 9110 section 7.2: host[:port] as in the URL
  std::string resource;     // path and query; "/" at least
  std::string origin;       // "scheme://host:port"
};

Result<Target> ParseTarget(const std::string& u) {
  urls::result<urls::url_view> r = urls::parse_uri(u);
  if (!r) return Status(Code::kInvalidArgument, "malformed URL " + u + ": " + r.error().message());
  Target t;
  std::string scheme = Lower(r->scheme());
  if (scheme != "http" && scheme != "https") {
    return Status(Code::kInvalidArgument, "unsupported URL scheme in " + u);
  }
  t.tls = scheme == "https";
  t.host = r->host_address();
  if (t.host.empty()) return Status(Code::kInvalidArgument, "no host in URL " + u);
  t.port = r->has_port() ? std::string(r->port()) : (t.tls ? "443" : "80");
  t.host_header = std::string(r->encoded_host()) + (r->has_port() ? ":" + t.port : "");
  t.resource = std::string(r->encoded_path());
  if (t.resource.empty()) t.resource = "/";
  if (r->has_query()) t.resource += "?" + std::string(r->encoded_query());
  t.origin = scheme + "://" + Lower(std::string(r->encoded_host())) + ":" + t.port;
  return t;
}

bool IsIpAddress(const std::string& host) {
  error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// The status of a failed network operation: see the file comment.
Status NetError(const std::string& what, const error_code& ec) {
  if (ec == beast::error::timeout) return Status(Code::kIo, what + ": timed out");
  return Status(Code::kIo, what + ": " + ec.message());
}

}  // namespace

const std::string* FindHeader(const Headers& headers, std::string_view name) {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (it->first == name) return &it->second;
  }
  return nullptr;
}

std::string UrlEncode(std::string_view s) {
  return url::PercentEncode(s, "");
}

// --- Transport ----------------------------------------------------------

Transport::Transport(TransportOptions options) : options_(std::move(options)) {}

Transport::~Transport() {
  for (Connection* c : idle_) delete c;
}

Result<Connection*> Transport::Acquire(const std::string& origin, bool tls, const std::string& host,
                                       const std::string& port) {
  while (true) {
    Connection* c = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
        if ((*it)->origin == origin) {
          c = *it;
          idle_.erase(std::next(it).base());
          break;
        }
      }
    }
    if (c == nullptr) break;
    // An idle connection with something to read has been closed by the
    // peer (or sent what nobody asked for): not usable.
    pollfd p{c->socket().socket().native_handle(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) == 0) {
      c->reused = true;
      return c;
    }
    delete c;
  }

  auto c = std::make_unique<Connection>();
  c->origin = origin;
  // Beast reads at most what the buffer has room for (and 64 KiB): a buffer
  // left at the few KiB a header needs makes a download 512-byte reads.
  c->buf.reserve(kReadBuffer);
  const std::string what = "connect to " + host + ":" + port;
  // Resolved synchronously: getaddrinfo has no timeout of its own, and an
  // asynchronous resolve would start a thread per connection.
  tcp::resolver resolver(c->ioc);
  error_code ec;
  tcp::resolver::results_type addrs = resolver.resolve(host, port, ec);
  if (ec) return Status(Code::kInvalidArgument, what + ": " + host + " does not resolve");
  net::ssl::context* ctx = nullptr;
  if (tls) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!tls_ && tls_status_.ok()) {
      // Made on the first HTTPS connection: loading the system's CAs is
      // work a plain-HTTP run does not need.
      auto t = std::make_unique<Tls>();
      t->ctx.set_default_verify_paths(ec);
      if (!options_.ca_file.empty() && !ec) t->ctx.load_verify_file(options_.ca_file, ec);
      if (ec) {
        tls_status_ =
            Status(Code::kInvalidArgument, "cannot read CA certificate file " + options_.ca_file);
      } else {
        t->ctx.set_verify_mode(options_.tls_verify ? net::ssl::verify_peer : net::ssl::verify_none);
        tls_ = std::move(t);
      }
    }
    if (!tls_status_.ok()) return tls_status_;
    ctx = &tls_->ctx;
  }
  if (ctx != nullptr) {
    c->tls.emplace(c->ioc, *ctx);
  } else {
    c->plain.emplace(c->ioc);
  }
  Outcome o = Await(*c, std::chrono::seconds(options_.connect_timeout_sec),
                    [&](auto done) { c->socket().async_connect(addrs, done); });
  if (o.ec) return NetError(what, o.ec);
  c->socket().socket().set_option(tcp::no_delay(true), ec);
  c->socket().socket().set_option(net::socket_base::keep_alive(true), ec);
  if (c->tls) {
    SSL* ssl = c->tls->native_handle();
    if (IsIpAddress(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl, host.c_str());  // SNI: names only (RFC 6066 section 3)
      SSL_set1_host(ssl, host.c_str());
    }
    o = Await(*c, std::chrono::seconds(options_.connect_timeout_sec),
              [&](auto done) { c->tls->async_handshake(net::ssl::stream_base::client, done); });
    if (o.ec) {
      // A certificate that does not verify, or a peer that does not speak
      // TLS: trying again gives the same answer.
      std::string msg = "TLS handshake with " + host + ":" + port + ": " + o.ec.message();
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK)
        msg += " (" + std::string(X509_verify_cert_error_string(verify)) + ")";
      if (o.ec.category() == net::error::get_ssl_category()) {
        return Status(Code::kInvalidArgument, msg);
      }
      return Status(Code::kIo, msg);
    }
  }
  return c.release();
}

void Transport::Release(Connection* c, bool reusable) {
  if (reusable && c->buf.size() == 0) {
    c->parser.reset();
    std::lock_guard<std::mutex> lock(mu_);
    if (idle_.size() < kMaxIdleConnections) {
      idle_.push_back(c);
      return;
    }
  }
  delete c;
}

Result<std::unique_ptr<Response>> Transport::Start(const Request& req) {
  std::string url = req.url, method = req.method;
  Result<Target> first = ParseTarget(url);
  if (!first.ok()) return first.status();
  for (int hop = 0;; ++hop) {
    Result<Target> t = ParseTarget(url);
    if (!t.ok()) return t.status();
    Result<std::unique_ptr<Response>> r = Once(req, url, method, t->origin != first->origin);
    if (!r.ok() || !req.follow_redirects || !IsRedirect((*r)->status())) return r;
    const std::string* location = (*r)->Header("location");
    if (location == nullptr) return r;
    if (hop == kMaxRedirects) {
      return Status(Code::kIo, req.method + " " + req.url + ": more than " +
                                   std::to_string(kMaxRedirects) + " redirects");
    }
    urls::result<urls::url_view> ref = urls::parse_uri_reference(*location);
    urls::url next(url);
    if (!ref || !next.resolve(*ref)) {
      return Status(Code::kIo,
                    method + " " + url + ": a redirect to a malformed URL: " + *location);
    }
    next.remove_fragment();
    if ((*r)->status() == 303 && method != "HEAD") method = "GET";
    (*r)->Drain();
    url = std::string(next.buffer());
  }
}

Result<std::unique_ptr<Response>> Transport::Once(const Request& req, const std::string& url,
                                                  const std::string& method,
                                                  bool drop_authorization) {
  Result<Target> t = ParseTarget(url);
  if (!t.ok()) return t.status();
  for (int attempt = 0;; ++attempt) {
    Result<Connection*> c = Acquire(t->origin, t->tls, t->host, t->port);
    if (!c.ok()) return Status(c.status().code(), method + " " + url + ": " + c.status().message());
    bool reused = (*c)->reused;
    std::unique_ptr<Response> r(new Response(this, *c));
    r->method_ = method;
    r->url_ = url;
    Status st = r->Exchange(req, t->resource, t->host_header, drop_authorization);
    if (st.ok()) return r;
    // A kept-alive connection that the server closed just as it was taken:
    // once more on a new one, if nothing came back and the body can be
    // sent again (a stream cannot).
    if (reused && attempt == 0 && !r->got_bytes_ && req.body_source == nullptr &&
        st.code() == Code::kIo) {
      continue;
    }
    return st;
  }
}

// --- Response -----------------------------------------------------------

Response::~Response() {
  if (conn_ == nullptr) return;
  bool reusable = reusable_ && done_ && conn_->parser && conn_->parser->is_done() &&
                  conn_->parser->get().keep_alive();
  transport_->Release(conn_, reusable);
}

Status Response::Exchange(const Request& req, const std::string& resource, const std::string& host,
                          bool drop_authorization) {
  const TransportOptions& o = transport_->options_;
  const auto stall = std::chrono::seconds(o.stall_timeout_sec);
  const std::string what = method_ + " " + url_;
  http::request<http::buffer_body> m;
  m.version(11);
  m.method_string(method_);
  m.target(resource);
  m.set(http::field::host, host);
  m.set(http::field::user_agent, o.user_agent);
  for (const std::string& h : req.headers) {
    size_t colon = h.find(':');
    if (colon == std::string::npos) continue;
    std::string name = Trim(std::string_view(h).substr(0, colon));
    std::string value = Trim(std::string_view(h).substr(colon + 1));
    if (drop_authorization && Lower(name) == "authorization") continue;
    if (value.empty()) continue;  // "Name:" asks for no such header
    m.insert(name, value);
  }
  const std::string* small = req.shared_body ? req.shared_body.get() : &req.body;
  ByteSource* source = req.body_source;
  bool has_body = source != nullptr || !small->empty() || method_ == "PUT" || method_ == "PATCH" ||
                  method_ == "POST";
  if (source != nullptr && req.body_length < 0) {
    m.chunked(true);
  } else if (has_body) {
    m.content_length(source != nullptr ? static_cast<uint64_t>(req.body_length) : small->size());
  }
  m.body().data = nullptr;
  m.body().size = 0;
  m.body().more = has_body;
  http::request_serializer<http::buffer_body> sr{m};

  auto write = [&]() {
    Outcome w = Await(*conn_, stall, [&](auto done) {
      WithStream(*conn_, [&](auto& s) { http::async_write(s, sr, done); });
    });
    return w.ec == http::error::need_buffer ? error_code{} : w.ec;
  };
  error_code ec = write();  // the header (and the end, without a body)
  if (!ec && has_body) {
    if (source == nullptr) {
      m.body().data = const_cast<char*>(small->data());
      m.body().size = small->size();
      m.body().more = false;
      ec = write();
    } else {
      std::vector<char> chunk(kBodyChunk);
      while (!ec) {
        Result<size_t> n = source->Read(chunk.data(), chunk.size());
        if (!n.ok()) return n.status();  // the connection is not reused
        m.body().data = *n > 0 ? chunk.data() : nullptr;
        m.body().size = *n;
        m.body().more = *n > 0;
        ec = write();
        if (*n == 0) break;
      }
    }
  }
  reusable_ = !ec;
  if (ec == beast::error::timeout) return NetError(what, ec);
  // A server may answer before the body is all sent, and close (a refusal,
  // 413): that answer is the one to return, when it can be read.
  conn_->parser.emplace();
  while (true) {
    http::response_parser<http::buffer_body>& p = *conn_->parser;
    p.header_limit(kHeaderLimit);
    p.body_limit(boost::none);
    if (method_ == "HEAD") p.skip(true);
    Outcome r = Await(*conn_, stall, [&](auto done) {
      WithStream(*conn_, [&](auto& s) { http::async_read_header(s, conn_->buf, p, done); });
    });
    got_bytes_ = got_bytes_ || r.bytes > 0;
    if (r.ec) return NetError(what, ec ? ec : r.ec);
    int status = static_cast<int>(p.get().result_int());
    if (status >= 100 && status < 200 && status != 101) {  // interim: the next one
      conn_->parser.emplace();
      continue;
    }
    status_ = status;
    for (const auto& f : p.get()) headers_.emplace_back(Lower(f.name_string()), Trim(f.value()));
    done_ = p.is_done();
    return Status::Ok();
  }
}

Result<size_t> Response::Read(char* buf, size_t n) {
  if (n == 0 || done_) return size_t{0};
  if (conn_ == nullptr || !conn_->parser)
    return Status(Code::kIo, method_ + " " + url_ + ": no body");
  http::response_parser<http::buffer_body>& p = *conn_->parser;
  const auto stall = std::chrono::seconds(transport_->options_.stall_timeout_sec);
  while (true) {
    p.get().body().data = buf;
    p.get().body().size = n;
    Outcome r = Await(*conn_, stall, [&](auto done) {
      WithStream(*conn_, [&](auto& s) { http::async_read_some(s, conn_->buf, p, done); });
    });
    size_t got = n - p.get().body().size;
    if (r.ec && r.ec != http::error::need_buffer) {
      reusable_ = false;
      return NetError(method_ + " " + url_ + " (the body)", r.ec);
    }
    done_ = p.is_done();
    if (got > 0 || done_) return got;
  }
}

Result<std::string> Response::ReadAll(size_t limit) {
  std::string out;
  char chunk[16384];
  while (true) {
    Result<size_t> got = Read(chunk, sizeof chunk);
    if (!got.ok()) return got.status();
    if (*got == 0) return out;
    if (out.size() + *got > limit) {
      return Status(Code::kInvalidArgument, method_ + " " + url_ + ": response larger than " +
                                                std::to_string(limit) + " bytes");
    }
    out.append(chunk, *got);
  }
}

void Response::Drain(size_t limit) {
  char chunk[16384];
  size_t total = 0;
  while (total < limit) {
    Result<size_t> got = Read(chunk, sizeof chunk);
    if (!got.ok() || *got == 0) return;
    total += *got;
  }
}

}  // namespace hoist::http_client
