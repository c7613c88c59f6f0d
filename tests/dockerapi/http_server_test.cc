// The engine's HTTP server (builder/dockerapi/http_server.h) over real
// sockets: bodies (length and chunked), streamed chunked answers,
// keep-alive, what RFC 9112 says to refuse, and where it may listen.
#include "builder/dockerapi/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "tests/engine/helpers.h"

namespace hoist::dockerapi {
namespace {

void Echo(Request& req, ResponseWriter& w) {
  if (req.path == "/upgrade") {
    // The new protocol: one line in, "got: " and the line back, then close.
    Result<int> fd = w.Upgrade("echo");
    if (!fd.ok()) {
      if (!w.started()) w.Send(409, "text/plain", fd.status().message());
      return;
    }
    std::string line;
    char c;
    while (line.size() < 100 && ::read(*fd, &c, 1) == 1 && c != '\n') line += c;
    std::string answer = "got: " + line + "\n";
    (void)!::write(*fd, answer.data(), answer.size());
    ::close(*fd);
    return;
  }
  if (req.path == "/stream") {
    // (Runs on the server's thread: failures show in the client's view.)
    w.Begin(200, "application/json");
    for (int i = 0; i < 3; ++i) w.Write("{\"n\":" + std::to_string(i) + "}\n");
    w.End();
    return;
  }
  std::string body;
  char buf[7];  // small reads: the body crosses many of them
  while (true) {
    Result<size_t> n = req.body().Read(buf, sizeof buf);
    if (!n.ok()) {
      w.Send(400, "text/plain", "bad body: " + n.status().message());
      return;
    }
    if (*n == 0) break;
    body.append(buf, *n);
  }
  w.Set("X-Query", req.Query("q").value_or("") + "|" + std::to_string(req.QueryAll("t").size()));
  w.Send(200, "text/plain", req.method + " " + req.path + " " + body);
}

// A server on a free loopback port, stopped at scope end.
struct Running {
  Server server{Echo};
  std::thread thread;
  int port = 0;
  Running() {
    REQUIRE(server.ListenTcp("127.0.0.1", 0).ok());
    std::string a = server.Address();
    REQUIRE(a.rfind("tcp://127.0.0.1:", 0) == 0);
    port = std::stoi(a.substr(a.rfind(':') + 1));
    thread = std::thread([this] { server.Run(); });
  }
  ~Running() {
    server.Shutdown();
    thread.join();
  }
  // A connected client socket (reads time out after 10 s).
  int Connect() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  // Sends `raw`, returns everything read until the server closes.
  std::string Exchange(const std::string& raw) const {
    int fd = Connect();
    REQUIRE(::write(fd, raw.data(), raw.size()) == static_cast<ssize_t>(raw.size()));
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
  }
};

TEST_CASE("engine http: bodies by length and chunked, decoded queries", "[engine]") {
  Running r;
  std::string out = r.Exchange(
      "POST /a%20b?q=x+y%21&t=1&t=2 HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
      "Connection: close\r\n\r\nhello world");
  CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(out.find("X-Query: x y!|2\r\n") != std::string::npos);
  CHECK(out.find("\r\n\r\nPOST /a b hello world") != std::string::npos);

  out = r.Exchange(
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
  CHECK(out.find("\r\n\r\nPOST /c hello world") != std::string::npos);
}

TEST_CASE("engine http: bare LF line ends are taken (RFC 9112 section 2.2, Docker.DotNet)",
          "[engine]") {
  Running r;
  // What Docker.DotNet sends on Linux: CRLF after the request line, LF
  // after each field, CRLF for the blank line.
  std::string out = r.Exchange(
      "POST /v1.41/x?q=1 HTTP/1.1\r\nUser-Agent: Docker.DotNet\nHost: h\nContent-Length: 4\n"
      "Connection: close\n\r\nbody");
  CHECK(out.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(out.find("POST /v1.41/x body") != std::string::npos);
  // All LF, and a body holding LFs of its own that stay as they are.
  out = r.Exchange("POST /y HTTP/1.1\nHost: h\nContent-Length: 5\nConnection: close\n\na\nb\nc");
  CHECK(out.find("POST /y a\nb\nc") != std::string::npos);
}

TEST_CASE("engine http: keep-alive answers every request on one connection", "[engine]") {
  Running r;
  std::string out = r.Exchange(
      "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
      "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
      "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  CHECK(out.find("GET /1 ") != std::string::npos);
  CHECK(out.find("POST /2 abc") != std::string::npos);
  CHECK(out.find("GET /3 ") != std::string::npos);
}

TEST_CASE("engine http: streamed answers are chunked", "[engine]") {
  Running r;
  std::string out = r.Exchange("GET /stream HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
  CHECK(out.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(out.find("\r\n8\r\n{\"n\":0}\n\r\n8\r\n{\"n\":1}\n\r\n8\r\n{\"n\":2}\n\r\n0\r\n\r\n") !=
        std::string::npos);
}

TEST_CASE("engine http: malformed framing is refused (RFC 9112)", "[engine]") {
  Running r;
  for (const char* bad : {
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 3\r\n\r\nabc",
           "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc",
           "GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n",
       }) {
    CAPTURE(bad);
    std::string out = r.Exchange(bad);
    CHECK(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
    CHECK(out.find("POST / ") == std::string::npos);
  }
  // Bad chunk framing shows up while the body is read: the handler's
  // read fails, and the connection closes after its answer.
  std::string out = r.Exchange(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: h\r\n\r\n");
  CHECK(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(out.find("bad body: request body: ") != std::string::npos);
  CHECK(out.find("GET /after") == std::string::npos);
  std::string huge = "GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(100000, 'a') + "\r\n\r\n";
  CHECK(r.Exchange(huge).rfind("HTTP/1.1 431 ", 0) == 0);
}

TEST_CASE("engine http: loopback TCP and unix sockets only", "[engine]") {
  Server s(Echo);
  Status st = s.ListenTcp("0.0.0.0", 0);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("not a loopback address") != std::string::npos);

  engine::test::TempDir t;
  std::string file = t.path() + "/plain";
  std::ofstream(file) << "x";
  CHECK(s.ListenUnix(file).code() == Code::kInvalidArgument);

  std::string sock = t.path() + "/engine.sock";
  {
    Server first(Echo);
    REQUIRE(first.ListenUnix(sock).ok());
  }  // removes its socket file
  CHECK(::access(sock.c_str(), F_OK) != 0);
  // A stale socket file (a killed engine's) is replaced.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock.c_str());
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
  ::close(fd);
  Server second(Echo);
  REQUIRE(second.ListenUnix(sock).ok());
  CHECK(second.Address() == "unix://" + sock);
}

}  // namespace
}  // namespace hoist::dockerapi

namespace hoist::dockerapi {
namespace {

TEST_CASE("engine http: an upgraded connection is the handler's", "[engine]") {
  Running r;
  int fd = r.Connect();
  std::string req =
      "POST /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n"
      "Content-Length: 0\r\n\r\n";
  REQUIRE(::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size()));
  // The 101, alone: the server writes nothing else on the connection.
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos && ::read(fd, &c, 1) == 1) head += c;
  CHECK(head.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0) == 0);
  CHECK(head.find("Upgrade: echo\r\n") != std::string::npos);
  REQUIRE(::write(fd, "ping\n", 5) == 5);
  std::string rest;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) rest.append(buf, static_cast<size_t>(n));
  ::close(fd);
  CHECK(rest == "got: ping\n");
}

TEST_CASE("engine http: no upgrade when bytes follow the request", "[engine]") {
  // They would belong to the new protocol but sit in the server's buffer.
  Running r;
  std::string out = r.Exchange(
      "POST /upgrade HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n"
      "Content-Length: 0\r\n\r\nping\n");
  CHECK(out.rfind("HTTP/1.1 409", 0) == 0);
  CHECK(out.find("101") == std::string::npos);
  // The bytes are not HTTP: the connection closes after the refusal (read
  // to its end here at once, not after the client's 10 s timeout).
  CHECK(out.find("Connection: close") != std::string::npos);
}

}  // namespace
}  // namespace hoist::dockerapi
