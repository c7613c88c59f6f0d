#include "registry/serve.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "common/log.h"
#include "registry/api.h"
#include "registry/http/server.h"
#include "registry/storage/driver.h"

namespace hoist::registry {
namespace {

Status WriteFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << content;
    if (!f) return Status(Code::kIo, "write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename", path);
  return Status::Ok();
}

// The gate's files: htpasswd, policy, token keys.
Result<Gate::Options> LoadAccess(const Config& cfg) {
  Gate::Options o;
  o.realm = cfg.realm;
  if (!cfg.htpasswd.empty()) {
    Result<Htpasswd> h_r = Htpasswd::Load(cfg.htpasswd);
    if (!h_r.ok()) return h_r.status();
    Htpasswd h = std::move(*h_r);
    o.htpasswd = std::move(h);
  }
  if (!cfg.access_policy.empty()) {
    Result<AccessPolicy> p_r = AccessPolicy::Load(cfg.access_policy);
    if (!p_r.ok()) return p_r.status();
    AccessPolicy p = std::move(*p_r);
    o.policy = std::move(p);
  }
  const TokenSettings& t = cfg.token;
  bool any_token = !t.service.empty() || !t.issuer.empty() || !t.cert_bundle.empty() ||
                   !t.signing_key.empty() || !t.realm.empty();
  if (!any_token) return o;
  if (t.service.empty() || t.issuer.empty() || t.cert_bundle.empty()) {
    return Status(Code::kInvalidArgument,
                  "token authentication needs --token-service, --token-issuer and "
                  "--token-cert-bundle (auth.token: service, issuer, rootcertbundle)");
  }
  if (t.signing_key.empty() && t.realm.empty()) {
    return Status(Code::kInvalidArgument,
                  "token authentication needs a realm (--token-realm), or --token-key to issue "
                  "tokens here");
  }
  Result<TokenVerifier> v_r = TokenVerifier::Load(t);
  if (!v_r.ok()) return v_r.status();
  TokenVerifier v = std::move(*v_r);
  if (!t.signing_key.empty()) {
    if (!o.htpasswd) {
      log::Warn("issuing tokens without --htpasswd: only anonymous tokens can be had");
    }
    Result<TokenIssuer> issuer_r = TokenIssuer::Load(t, v);
    if (!issuer_r.ok()) return issuer_r.status();
    TokenIssuer issuer = std::move(*issuer_r);
    o.issuer = std::move(issuer);
  }
  o.verifier = std::move(v);
  return o;
}

}  // namespace

int Serve(const ServeOptions& options) {
  const Config& cfg = options.config;
  log::Configure(cfg.log_level, cfg.log_format);

  // A missing bucket or wrong keys stop the start, saying which.
  std::string root;
  Result<std::unique_ptr<storage::StorageDriver>> opened = OpenStorage(cfg, &root);
  if (!opened.ok()) {
    log::Error(opened.status().message());
    return 1;
  }
  std::unique_ptr<storage::StorageDriver> driver = std::move(*opened);
  // Access (access.h): refuse to start on a bad file rather than serve
  // with less protection than configured.
  Result<Gate::Options> access = LoadAccess(cfg);
  if (!access.ok()) {
    log::Error(access.status().message());
    return 1;
  }
  Api api(cfg, *driver, Gate(std::move(*access)));
  if (!cfg.proxy.upstream.empty()) {
    Status px = api.EnableProxy(cfg.proxy);
    if (!px.ok()) {
      log::Error(px.message());
      return 1;
    }
    log::Info("pull-through mirror", {{"upstream", cfg.proxy.upstream}});
  }
  if (!cfg.scan_db.empty()) {
    // A feed that cannot be read stops the start, as a bad flag does.
    if (Result<packages::OsvFeed> feed = packages::OsvFeed::Load(cfg.scan_db); !feed.ok()) {
      log::Error("cannot read the scan feed", {{"error", feed.status().message()}});
      return 1;
    }
    api.EnableScans(cfg.scan_db);
  }
  // Upload sessions: count those a previous run left, and expire idle
  // ones once serving (a quarter of the idle limit apart, at most a minute).
  if (Result<UploadStore::Sweep> s = api.ExpireUploads(); s.ok() && s->expired > 0) {
    log::Info("expired idle upload sessions", {{"expired", std::to_string(s->expired)}});
  }

  std::string host;
  int port = 0;
  Status st = SplitHostPort(cfg.addr, &host, &port);
  if (!st.ok()) {
    log::Error(st.message());
    return 1;
  }
  http::ServerOptions sopt;
  sopt.access_log = cfg.access_log;
  sopt.observer = [&api](const http::Request& q, const http::Response& r, const http::Exchange& x) {
    api.Observe(q, r, x);
  };
  http::Server server([&api](http::Request& q, http::Response& r) { api.Handle(q, r); }, sopt);
  if (!cfg.tls_cert.empty() || !cfg.tls_key.empty()) {
    if (cfg.tls_cert.empty() || cfg.tls_key.empty()) {
      log::Error("TLS needs both a certificate and a key (--tls-cert, --tls-key)");
      return 1;
    }
    st = server.EnableTls({cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca});
    if (!st.ok()) {
      log::Error(st.message());
      return 1;
    }
  } else if (!cfg.tls_client_ca.empty()) {
    log::Error("--tls-client-ca needs --tls-cert and --tls-key");
    return 1;
  }
  // Plain HTTP beyond this machine carries passwords and images in the
  // clear: only when asked for, and said loudly.
  bool loopback_host =
      host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1" || host == "[::1]";
  if (!server.tls() && !loopback_host) {
    if (!cfg.allow_plain_http) {
      log::Error(
          "refusing plain HTTP on a non-loopback address; give --tls-cert and --tls-key, "
          "or --allow-plain-http",
          {{"addr", cfg.addr}});
      return 1;
    }
    log::Warn("serving plain HTTP on a non-loopback address (--allow-plain-http)",
              {{"addr", cfg.addr}});
  }

  // Signals go to one thread that waits for them; every other thread,
  // including the connection threads started later, has them blocked.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  st = server.Listen(host, port);
  if (!st.ok()) {
    log::Error("cannot listen", {{"addr", cfg.addr}, {"error", st.message()}});
    return 1;
  }
  std::string bound = server.BoundAddress();
  if (!options.addr_file.empty()) {
    st = WriteFileAtomic(options.addr_file, bound + "\n");
    if (!st.ok()) {
      log::Error("cannot write address file", {{"error", st.message()}});
      return 1;
    }
  }
  std::printf("%s\n", bound.c_str());
  std::fflush(stdout);
  log::Info("registry listening",
            {{"addr", bound}, {"root", root}, {"tls", server.tls() ? "on" : "off"}});

  std::thread([&api, period = std::clamp<int64_t>(cfg.upload_idle_seconds / 4, 1, 60)] {
    while (true) {
      std::this_thread::sleep_for(std::chrono::seconds(period));
      Result<UploadStore::Sweep> s = api.ExpireUploads();
      if (s.ok() && s->expired > 0) {
        log::Info("expired idle upload sessions",
                  {{"expired", std::to_string(s->expired)}, {"open", std::to_string(s->open)}});
      }
    }
  }).detach();  // ends with the process (Serve leaves through _Exit)
  if (cfg.gc_interval_ms > 0) {
    std::thread([&api, &cfg] {
      GcOptions opt;
      opt.min_age_sec = 0;  // uses are tracked instead (gc.h)
      opt.upload_max_age_sec = cfg.upload_idle_seconds;
      opt.delete_untagged = cfg.gc_delete_untagged;
      opt.use_grace_ms = cfg.gc_grace_ms;
      while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(cfg.gc_interval_ms));
        Result<GcReport> r = api.CollectGarbage(opt);
        if (!r.ok()) {
          log::Error("garbage collection failed", {{"error", r.status().message()}});
          continue;
        }
        log::Info("garbage collected", {{"blobs_deleted", std::to_string(r->blobs_deleted)},
                                        {"bytes_freed", std::to_string(r->bytes_freed)},
                                        {"manifests_deleted", std::to_string(r->manifests_deleted)},
                                        {"uploads_deleted", std::to_string(r->uploads_deleted)},
                                        {"kept_in_use", std::to_string(r->kept_in_use)},
                                        {"seconds", std::to_string(r->seconds)}});
      }
    }).detach();  // like the upload sweeper: ends with the process
  }
  if (!cfg.scan_db.empty()) {
    std::thread([&api, &cfg] {
      while (true) {
        const auto start = std::chrono::steady_clock::now();
        Status st = api.RunScan();
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (st.ok()) {
          log::Info("scanned the stored images", {{"seconds", std::to_string(secs)}});
        } else {
          log::Error("scan failed; the last results stay", {{"error", st.message()}});
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(cfg.scan_interval_ms));
      }
    }).detach();  // like the GC: ends with the process
  }
  std::thread waiter([&server, set] {
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
      // A renewed certificate: new connections get it; a bad file keeps the old.
      Status r = server.ReloadTls();
      if (r.ok()) {
        log::Info("TLS certificate reloaded");
      } else {
        log::Error("TLS reload failed; the old certificate stays", {{"error", r.message()}});
      }
    }
    log::Info("signal received, draining", {{"signal", std::to_string(sig)}});
    server.Shutdown();
  });
  server.Run();
  waiter.detach();  // still in sigwait only if Run ended on an accept error
  log::Info("registry stopped");
  // Connection threads still inside a request after the grace period are
  // abandoned: leave without running destructors they may still use.
  std::fflush(nullptr);
  std::_Exit(0);
}

}  // namespace hoist::registry
