// libFuzzer target over the registry's HTTP front (registry/http/server.h):
// bytes in, through a socketpair, responses out. Whatever comes in, the
// server must answer with well-formed status lines only, never crash, hang
// or leak, and never read past what it framed.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>

#include "registry/http/server.h"

namespace {

// Reads the body (bounded) and answers with its size, as a handler would.
void Handler(hoist::http::Request& req, hoist::http::Response& resp) {
  char buf[4096];
  size_t total = 0;
  while (total < (1 << 20)) {
    hoist::Result<size_t> n = req.body().Read(buf, sizeof buf);
    if (!n.ok()) {
      resp.status = 400;
      return;
    }
    if (*n == 0) break;
    total += *n;
  }
  resp.status = req.path == "/v2/" ? 200 : 404;
  resp.body = std::to_string(total);
}

hoist::http::Server& TheServer() {
  static hoist::http::Server* server = [] {
    hoist::http::ServerOptions o;
    o.access_log = false;
    o.head_timeout_sec = 2;
    o.io_timeout_sec = 2;
    o.idle_timeout_sec = 2;
    return new hoist::http::Server(Handler, o);
  }();
  return *server;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
  std::thread server([fd = sv[0]] { TheServer().ServeSocket(fd, "fuzz"); });
  std::thread writer([&] {
    size_t off = 0;
    while (off < size) {
      ssize_t w = ::send(sv[1], data + off, size - off, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    ::shutdown(sv[1], SHUT_WR);
  });
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(sv[1], buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  writer.join();
  server.join();
  ::close(sv[1]);
  // Every response the server wrote starts with a status line.
  if (!out.empty() && out.rfind("HTTP/1.1 ", 0) != 0) std::abort();
  return 0;
}
