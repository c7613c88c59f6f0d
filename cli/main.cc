// hoist: one binary, thin subcommands over the libraries.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <tuple>

#include "builder/dockerapi/cli_commands.h"
#include "builder/dockerfile/cli_commands.h"
#include "builder/engine/cli_commands.h"
#include "builder/sandbox/sandbox.h"
#include "builder/sandbox/snapshot.h"
#include "builder/sbom/cli_commands.h"
#include "builder/sign/cli_commands.h"
#include "builder/transfer/cli_commands.h"
#include "builder/up/cli_commands.h"
#include "common/log.h"
#include "registry/config.h"
#include "registry/gc.h"
#include "registry/serve.h"

#ifndef HOIST_VERSION
#define HOIST_VERSION "0.0.0"
#endif

namespace {

// Where a registry's bytes are, for `serve` and `gc` alike: --storage and
// the --s3-* flags over the config file's storage section, and the keys
// from the AWS tools' environment unless the file has them.
struct StorageFlags {
  std::string kind;
  hoist::storage::S3Options s3;
  bool virtual_host = false;
  std::string cache_ttl;
  std::string blob_cache, blob_cache_size;
  CLI::App* app = nullptr;

  void Add(CLI::App* a) {
    app = a;
    a->add_option("--storage", kind, "filesystem (default, below --root) or s3");
    a->add_option("--s3-endpoint", s3.endpoint, "S3: the endpoint URL (http:// for loopback)");
    a->add_option("--s3-bucket", s3.bucket, "S3: the bucket");
    a->add_option("--s3-region", s3.region, "S3: the region to sign for")->capture_default_str();
    a->add_option("--s3-root-directory", s3.root_directory, "S3: a key prefix for everything");
    a->add_flag("--s3-virtual-host", virtual_host,
                "S3: bucket.host addressing instead of host/bucket");
    a->add_option("--s3-cache-ttl", cache_ttl,
                  "S3: reuse the store's answers this long (what another registry process "
                  "changes shows after at most this); default 1s, 0 off");
    a->add_option("--s3-blob-cache", blob_cache,
                  "S3: keep a copy of each blob pulled in this local directory and serve it "
                  "from there next time");
    a->add_option("--s3-blob-cache-size", blob_cache_size,
                  "S3: the most --s3-blob-cache holds (least recently pulled go first); "
                  "default 10GiB");
  }

  // False (having said why) on a bad --storage, --s3-cache-ttl or size.
  bool Apply(hoist::registry::Config* cfg) const {
    if (!kind.empty()) {
      if (kind != "filesystem" && kind != "s3") {
        std::fprintf(stderr, "hoist: --storage must be filesystem or s3\n");
        return false;
      }
      cfg->storage = kind;
    }
    hoist::storage::S3Options& so = cfg->s3;
    for (auto [flag, field] : {std::pair{&s3.endpoint, &so.endpoint},
                               {&s3.bucket, &so.bucket},
                               {&s3.root_directory, &so.root_directory}}) {
      if (!flag->empty()) *field = *flag;
    }
    if (app->count("--s3-region") > 0) so.region = s3.region;
    if (virtual_host) so.path_style = false;
    if (!cache_ttl.empty()) {
      hoist::Result<int64_t> ms = hoist::registry::ParseDuration(cache_ttl, "--s3-cache-ttl");
      if (!ms.ok()) {
        std::fprintf(stderr, "hoist: %s\n", ms.status().message().c_str());
        return false;
      }
      cfg->storage_cache_ttl_ms = *ms;
    }
    if (!blob_cache.empty()) cfg->blob_cache_dir = blob_cache;
    if (!blob_cache_size.empty()) {
      hoist::Result<int64_t> n =
          hoist::registry::ParseSize(blob_cache_size, "--s3-blob-cache-size");
      if (!n.ok()) {
        std::fprintf(stderr, "hoist: %s\n", n.status().message().c_str());
        return false;
      }
      cfg->blob_cache_bytes = *n;
    }
    for (auto [env, field] : {std::pair{"AWS_ACCESS_KEY_ID", &so.access_key},
                              {"AWS_SECRET_ACCESS_KEY", &so.secret_key}}) {
      if (const char* v = std::getenv(env); v && field->empty()) *field = v;
    }
    return true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hoist: daemonless container-image toolchain (build, push, registry)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hoist ") + HOIST_VERSION);

  CLI::App* version = app.add_subcommand("version", "Print the version and exit");

  CLI::App* registry = app.add_subcommand("registry", "Run and manage the bundled OCI registry");
  registry->require_subcommand(1);
  CLI::App* serve = registry->add_subcommand(
      "serve", "Serve the OCI distribution API (spec v1.1) from a storage root");
  std::string config_file, addr, root, level, format, addr_file;
  serve->add_option("--config", config_file, "YAML configuration file")->check(CLI::ExistingFile);
  serve->add_option("--addr", addr, "HOST:PORT to listen on; port 0 picks a free port")
      ->default_str("127.0.0.1:5000");
  serve->add_option("--root", root, "Storage root (the registry:2 on-disk layout)")
      ->default_str(".hoist/registry");
  serve->add_option("--log-level", level, "debug|info|warn|error")->default_str("info");
  serve->add_option("--log-format", format, "text|json")->default_str("text");
  serve->add_option("--addr-file", addr_file, "Also write the bound address to this file");
  std::string htpasswd, access_policy, tls_cert, tls_key, tls_client_ca;
  bool allow_plain_http = false;
  serve->add_option("--tls-cert", tls_cert, "TLS certificate chain (PEM); reloaded on SIGHUP")
      ->check(CLI::ExistingFile);
  serve->add_option("--tls-key", tls_key, "TLS private key (PEM)")->check(CLI::ExistingFile);
  serve
      ->add_option("--tls-client-ca", tls_client_ca,
                   "Require client certificates signed by this CA (mutual TLS)")
      ->check(CLI::ExistingFile);
  serve->add_flag("--allow-plain-http", allow_plain_http,
                  "Serve plain HTTP on a non-loopback address (refused otherwise)");
  serve
      ->add_option("--htpasswd", htpasswd,
                   "Basic authentication from this htpasswd file (bcrypt: htpasswd -B)")
      ->check(CLI::ExistingFile);
  serve
      ->add_option("--access-policy", access_policy,
                   "Who may pull, push and delete which repositories (YAML; see README)")
      ->check(CLI::ExistingFile);
  hoist::registry::TokenSettings token;
  int64_t max_uploads = 0, upload_idle = 0;
  serve->add_option("--token-service", token.service,
                    "Bearer-token authentication: the service name tokens are issued for");
  serve->add_option("--token-issuer", token.issuer, "Bearer tokens: the issuer they must name");
  serve
      ->add_option("--token-cert-bundle", token.cert_bundle,
                   "Bearer tokens: certificates (PEM) of the keys that sign them")
      ->check(CLI::ExistingFile);
  serve->add_option("--token-realm", token.realm,
                    "Bearer tokens: where clients get them (default: this registry's /token)");
  serve
      ->add_option("--token-key", token.signing_key,
                   "Issue tokens at /token, signed with this key (its certificate in the bundle)")
      ->check(CLI::ExistingFile);
  serve->add_option("--token-expiration", token.ttl_seconds, "Issued tokens' lifetime, in seconds");
  serve->add_option("--max-uploads", max_uploads,
                    "Upload sessions open at once (beyond: 429); default 256");
  serve->add_option("--upload-idle", upload_idle,
                    "Seconds an upload session may sit idle before it expires; default 3600");

  hoist::registry::ProxyOptions proxy;
  std::string proxy_ttl;
  serve->add_option("--proxy-upstream", proxy.upstream,
                    "Be a pull-through mirror of this registry (https://host or http://host:port)");
  serve->add_option("--proxy-username", proxy.username, "The upstream's user name");
  serve->add_option("--proxy-password", proxy.password,
                    "The upstream's password (or HOIST_PROXY_PASSWORD in the environment)");
  serve
      ->add_option("--proxy-credentials", proxy.credentials_file,
                   "The upstream's credentials from this docker config.json (`auths`)")
      ->check(CLI::ExistingFile);
  serve->add_option("--proxy-ca-cert", proxy.ca_file, "Extra CA (PEM) for the upstream's TLS")
      ->check(CLI::ExistingFile);
  serve->add_option("--proxy-tag-ttl", proxy_ttl,
                    "Ask the upstream about a tag again after this long; default 1m");
  StorageFlags serve_storage;
  serve_storage.Add(serve);
  bool no_ui = false;
  serve->add_flag("--no-ui", no_ui, "Do not serve the web UI at /ui/");
  std::string scan_db, scan_interval;
  serve->add_option("--scan-db", scan_db,
                    "Scan the stored images against this directory of OSV records (metrics, UI, "
                    "GET /v2/<name>/_hoist/scan/<digest>)");
  serve->add_option("--scan-interval", scan_interval, "How often to scan; default 1h");
  bool sparse_indexes = false, sparse_manifests = false;
  serve->add_flag("--sparse-indexes", sparse_indexes,
                  "Accept image indexes whose child manifests are not all in the repository");
  serve->add_flag("--sparse-manifests", sparse_manifests,
                  "Accept image manifests whose config or layers are not in the repository");
  std::string gc_interval, gc_grace;
  bool serve_delete_untagged = false;
  serve->add_option("--gc-interval", gc_interval,
                    "Collect garbage while serving, this often (e.g. 30m, 1h); off by default");
  serve->add_flag("--delete-untagged", serve_delete_untagged,
                  "With --gc-interval: also remove manifests no tag reaches");
  serve->add_option("--gc-grace", gc_grace,
                    "With --gc-interval: keep what a client used this recently; default 10m");

  CLI::App* gc = registry->add_subcommand(
      "gc", "Delete blobs no manifest references, and stale upload sessions");
  std::string gc_root, gc_config;
  bool gc_dry_run = false, gc_json = false;
  int64_t gc_min_age = 3600, gc_upload_age = 86400;
  gc->add_option("--config", gc_config, "The registry's YAML configuration file (its storage)")
      ->check(CLI::ExistingFile);
  gc->add_option("--root", gc_root, "Storage root; default .hoist/registry");
  StorageFlags gc_storage;
  gc_storage.Add(gc);
  gc->add_flag("--dry-run,-n", gc_dry_run, "Report what would be deleted, delete nothing");
  gc->add_option("--min-age", gc_min_age,
                 "Keep unreferenced blobs younger than this many seconds (0 only when stopped)")
      ->capture_default_str();
  gc->add_option("--upload-max-age", gc_upload_age,
                 "Delete upload sessions idle for longer than this many seconds")
      ->capture_default_str();
  gc->add_flag("--json", gc_json, "Print the report as JSON");
  bool gc_delete_untagged = false;
  gc->add_flag("--delete-untagged", gc_delete_untagged,
               "Also remove manifests that no tag reaches (directly or through an index)");

  // Dockerfile frontend: `dockerfile parse`
  // (logic in builder/dockerfile/cli_commands.h).
  hoist::dockerfile::ParseCommandOptions df_opts;
  CLI::App* dockerfile = app.add_subcommand("dockerfile", "Parse and check Dockerfiles");
  dockerfile->require_subcommand(1);
  CLI::App* df_parse = dockerfile->add_subcommand(
      "parse", "Parse and check a Dockerfile: exit 0 valid, 1 invalid, 2 usage");
  df_parse->add_option("file", df_opts.file, "The Dockerfile (- reads stdin)")->required();
  df_parse->add_flag("--json", df_opts.json,
                     "Print the instructions, stage graph and plan as JSON");
  df_parse->add_flag("--dump", df_opts.dump, "Print BuildKit's AST dump (checks the syntax only)");
  df_parse->add_option("--build-arg", df_opts.build_args, "KEY=VALUE build argument (repeatable)")
      ->allow_extra_args(false);
  df_parse->add_option("--target", df_opts.target, "The stage to plan for");
  df_parse->add_option("--platform", df_opts.platform, "Target platform, e.g. linux/arm64");
  df_parse->add_flag("--strict", df_opts.strict,
                     "BuildKit's dialect only: refuse buildah/podman extensions as BuildKit does");
  if (argc > 1 && std::string(argv[1]) == "dockerfile") {
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return app.exit(e) == 0 ? 0 : hoist::dockerfile::kExitUsage;  // usage errors exit 2
    }
    return hoist::dockerfile::RunDockerfileParse(df_opts);
  }

  // Builds: `build` (with --print-plan from the frontend), `cache prune`,
  // and `push NAME REF` of an image a build kept in the local store (any
  // other push is transfer's). Logic in builder/engine/cli_commands.h.
  // Builds run as root of a user namespace with the caller's subordinate
  // ids when it has them (sandbox.h, ReexecInUserNamespace).
  if (argc > 1 && (std::string(argv[1]) == "build" || std::string(argv[1]) == "up" ||
                   std::string(argv[1]) == "cache" || std::string(argv[1]) == "engine")) {
    hoist::sandbox::ReexecInUserNamespace(argv);
    // A mount namespace of its own where it may make one: RUN's overlays
    // are private to this process and vanish with it.
    hoist::sandbox::EnterMountNamespace();
  }
  hoist::engine::CliCommands build_commands(app);
  if (build_commands.Owns(argc, argv)) return build_commands.Run(argc, argv);

  // Image transfer: copy, pull, push, inspect, tags, catalog, login, logout
  // (logic in builder/transfer/cli_commands.h).
  hoist::transfer::CliCommands transfer_commands(app);
  transfer_commands.SetSourceVerifier(hoist::sign::VerifySource);
  if (transfer_commands.Owns(argc, argv)) return transfer_commands.Run(argc, argv);

  // Signatures: sign, verify (logic in builder/sign/cli_commands.h).
  hoist::sign::CliCommands sign_commands(app);
  if (sign_commands.Owns(argc, argv)) return sign_commands.Run(argc, argv);

  // Inventories: sbom, scan (logic in builder/sbom/cli_commands.h).
  hoist::sbom::CliCommands sbom_commands(app);
  if (sbom_commands.Owns(argc, argv)) return sbom_commands.Run(argc, argv);

  // `hoist engine`: the Docker Engine API's image half (builder/dockerapi).
  hoist::dockerapi::CliCommands engine_commands(app, HOIST_VERSION);
  if (engine_commands.Owns(argc, argv)) return engine_commands.Run(argc, argv);

  // `hoist up` / down / status / env (logic in builder/up/cli_commands.h).
  hoist::up::CliCommands up_commands(app);
  if (up_commands.Owns(argc, argv)) return up_commands.Run(argc, argv);

  CLI11_PARSE(app, argc, argv);

  if (*gc) {
    hoist::registry::GcOptions opt;
    opt.dry_run = gc_dry_run;
    opt.min_age_sec = gc_min_age;
    opt.upload_max_age_sec = gc_upload_age;
    opt.delete_untagged = gc_delete_untagged;
    hoist::registry::Config cfg;
    if (!gc_config.empty()) {
      hoist::Status st = hoist::registry::LoadConfigFile(gc_config, &cfg);
      if (!st.ok()) {
        std::fprintf(stderr, "hoist: %s\n", st.message().c_str());
        return 2;
      }
    }
    if (!gc_root.empty()) cfg.root = gc_root;
    if (!gc_storage.Apply(&cfg)) return 2;
    return hoist::registry::RunGc(cfg, opt, gc_json);
  }

  if (*version) {
    std::printf("hoist %s\n", HOIST_VERSION);
    return 0;
  }
  if (*serve) {
    hoist::registry::ServeOptions opt;
    if (!config_file.empty()) {
      hoist::Status st = hoist::registry::LoadConfigFile(config_file, &opt.config);
      if (!st.ok()) {
        std::fprintf(stderr, "hoist: %s\n", st.message().c_str());
        return 2;
      }
    }
    if (!addr.empty()) opt.config.addr = addr;
    if (!root.empty()) opt.config.root = root;
    if (!htpasswd.empty()) opt.config.htpasswd = htpasswd;
    if (!access_policy.empty()) opt.config.access_policy = access_policy;
    if (!tls_cert.empty()) opt.config.tls_cert = tls_cert;
    if (!tls_key.empty()) opt.config.tls_key = tls_key;
    if (!tls_client_ca.empty()) opt.config.tls_client_ca = tls_client_ca;
    if (allow_plain_http) opt.config.allow_plain_http = true;
    hoist::registry::TokenSettings& t = opt.config.token;
    for (auto [flag, field] : {std::pair{&token.service, &t.service},
                               {&token.issuer, &t.issuer},
                               {&token.cert_bundle, &t.cert_bundle},
                               {&token.realm, &t.realm},
                               {&token.signing_key, &t.signing_key}}) {
      if (!flag->empty()) *field = *flag;
    }
    if (serve->count("--token-expiration") > 0) t.ttl_seconds = token.ttl_seconds;
    if (max_uploads > 0) opt.config.max_uploads = max_uploads;
    if (upload_idle > 0) opt.config.upload_idle_seconds = upload_idle;
    if (!level.empty() && !hoist::log::ParseLevel(level, &opt.config.log_level)) {
      std::fprintf(stderr, "hoist: --log-level must be debug|info|warn|error\n");
      return 2;
    }
    if (!format.empty() && !hoist::log::ParseFormat(format, &opt.config.log_format)) {
      std::fprintf(stderr, "hoist: --log-format must be text|json\n");
      return 2;
    }
    for (auto [text, field, flag] :
         {std::tuple{&gc_interval, &opt.config.gc_interval_ms, "--gc-interval"},
          {&gc_grace, &opt.config.gc_grace_ms, "--gc-grace"}}) {
      if (text->empty()) continue;
      hoist::Result<int64_t> ms = hoist::registry::ParseDuration(*text, flag);
      if (!ms.ok()) {
        std::fprintf(stderr, "hoist: %s\n", ms.status().message().c_str());
        return 2;
      }
      *field = *ms;
    }
    if (serve_delete_untagged) opt.config.gc_delete_untagged = true;
    if (no_ui) opt.config.ui_enabled = false;
    if (!scan_db.empty()) opt.config.scan_db = scan_db;
    if (!scan_interval.empty()) {
      hoist::Result<int64_t> ms = hoist::registry::ParseDuration(scan_interval, "--scan-interval");
      if (!ms.ok() || *ms <= 0) {
        std::fprintf(stderr, "hoist: %s\n",
                     ms.ok() ? "--scan-interval must be positive" : ms.status().message().c_str());
        return 2;
      }
      opt.config.scan_interval_ms = *ms;
    }
    if (!serve_storage.Apply(&opt.config)) return 2;
    hoist::registry::ProxyOptions& px = opt.config.proxy;
    if (!proxy.upstream.empty()) px.upstream = proxy.upstream;
    if (!proxy.username.empty()) px.username = proxy.username;
    if (!proxy.password.empty()) px.password = proxy.password;
    if (const char* env = std::getenv("HOIST_PROXY_PASSWORD"); env && px.password.empty()) {
      px.password = env;
    }
    if (!proxy.credentials_file.empty()) px.credentials_file = proxy.credentials_file;
    if (!proxy.ca_file.empty()) px.ca_file = proxy.ca_file;
    if (!proxy_ttl.empty()) {
      hoist::Result<int64_t> ms = hoist::registry::ParseDuration(proxy_ttl, "--proxy-tag-ttl");
      if (!ms.ok()) {
        std::fprintf(stderr, "hoist: %s\n", ms.status().message().c_str());
        return 2;
      }
      px.tag_ttl_ms = *ms;
    }
    if (sparse_manifests) opt.config.reference_policy.blobs_required = false;
    if (sparse_indexes) {
      opt.config.reference_policy.children = hoist::registry::ReferencePolicy::Children::kNone;
    }
    opt.config.version = HOIST_VERSION;
    opt.addr_file = addr_file;
    return hoist::registry::Serve(opt);
  }
  return 0;
}
