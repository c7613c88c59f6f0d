#include "builder/transfer/cli_commands.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "builder/transfer/copy.h"
#include "builder/transfer/layout.h"
#include "builder/transfer/place.h"
#include "builder/transfer/progress.h"
#include "builder/transfer/verify.h"
#include "common/credentials.h"
#include "common/reference.h"
#include "common/registry_client.h"

namespace hoist::transfer {
namespace {

using nlohmann::json;

constexpr const char* kDefaultPullDir = ".hoist/images";

void AddCopyFlags(CLI::App* c, CopyFlags& f) {
  c->add_option("--platform", f.platform, "Copy only this platform's image: os/arch[/variant]");
  c->add_option("--jobs,-j", f.jobs, "Blobs transferred at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  c->add_flag("--quiet,-q", f.quiet, "Print no progress");
  c->add_flag("--json", f.json, "Print progress as JSON events on stdout, one per line");
}

void AddVerifyFlag(CLI::App* c, std::vector<std::string>& keys) {
  c->add_option("--verify", keys,
                "Copy only if the source has a valid cosign signature by this public key "
                "(repeatable: any of them); what is copied is the signed digest")
      ->allow_extra_args(false);
}

int Fail(const Status& st) {
  std::fprintf(stderr, "hoist: %s\n",
               st.message().empty() ? st.ToString().c_str() : st.message().c_str());
  return kExitFailure;
}

int Usage(const std::string& msg) {
  std::fprintf(stderr, "hoist: %s\n", msg.c_str());
  return kExitUsage;
}

// Exit 2 for bad input found before anything was sent, 1 otherwise.
int FailPlace(const Status& st) {
  return st.code() == Code::kInvalidArgument ? Usage(st.message()) : Fail(st);
}

// One name per line, or a JSON array.
void PrintList(const std::vector<std::string>& items, bool as_json) {
  if (as_json) {
    std::printf("%s\n", json(items).dump().c_str());
    return;
  }
  for (const std::string& s : items) std::printf("%s\n", s.c_str());
}

}  // namespace

void AddConnectionFlags(CLI::App* c, ConnectionFlags& f) {
  c->add_option("--tls-verify", f.tls_verify,
                "Verify TLS certificates (--tls-verify=false to skip)")
      ->default_str("true");
  c->add_option("--ca-cert", f.ca_cert, "Extra CA certificate bundle (PEM) to trust")
      ->check(CLI::ExistingFile);
  c->add_option("--plain-http", f.plain_http, "Speak plain HTTP to this registry host (repeatable)")
      ->allow_extra_args(false);
  c->add_option("--retries", f.retries, "Retries per request after the first try")
      ->check(CLI::Range(0, 100))
      ->capture_default_str();
  c->add_option("--timeout", f.timeout_sec, "Seconds without progress before a request fails")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  c->add_option("--authfile", f.authfile,
                "Docker config file with credentials (default $DOCKER_CONFIG/config.json or "
                "~/.docker/config.json)");
}

RegistryClientOptions ClientOptions(const ConnectionFlags& f) {
  RegistryClientOptions o;
  o.transport.tls_verify = f.tls_verify;
  o.transport.ca_file = f.ca_cert;
  o.transport.stall_timeout_sec = f.timeout_sec;
  o.transport.connect_timeout_sec = std::min(f.timeout_sec, 30);
  for (const std::string& h : f.plain_http) {
    Result<std::string> n = NormalizeRegistryHost(h);
    o.plain_http_hosts.push_back(n.ok() ? *n : h);
  }
  o.attempts = f.retries + 1;
  o.docker_config = f.authfile;
  return o;
}

CliCommands::CliCommands(CLI::App& app) : app_(app) {
  copy_ = app.add_subcommand("copy", "Copy an image between registries, OCI layouts and archives");
  copy_
      ->add_option("source", src_,
                   "REF | docker://REF | oci:DIR[:TAG] | oci-archive:FILE[:TAG] | "
                   "docker-archive:FILE[:REF]")
      ->required();
  copy_->add_option("destination", dst_, "Same forms as the source")->required();
  AddCopyFlags(copy_, copy_flags_);
  AddConnectionFlags(copy_, conn_);
  AddVerifyFlag(copy_, verify_keys_);

  pull_ = app.add_subcommand("pull", "Pull an image from a registry into an OCI layout");
  pull_->add_option("reference", src_, "Image reference, e.g. redis:alpine")->required();
  pull_->add_option("--output,-o", output_,
                    std::string("Where to put it (default oci:") + kDefaultPullDir +
                        ", named by the full reference)");
  AddCopyFlags(pull_, copy_flags_);
  AddConnectionFlags(pull_, conn_);
  AddVerifyFlag(pull_, verify_keys_);

  push_ = app.add_subcommand("push", "Push a local image (OCI layout or archive) to a registry");
  push_->add_option("source", src_, "oci:DIR[:TAG] | oci-archive:FILE[:TAG] | docker-archive:FILE")
      ->required();
  push_->add_option("reference", dst_, "Destination image reference")->required();
  AddCopyFlags(push_, copy_flags_);
  AddConnectionFlags(push_, conn_);

  inspect_ = app.add_subcommand("inspect", "Show an image's digest, platform, layers and config");
  inspect_->add_option("reference", src_, "Image (any place copy takes)")->required();
  inspect_->add_flag("--raw", raw_, "Print the manifest (or with --config, the config) as stored");
  inspect_->add_flag("--config", config_, "Print the image configuration");
  inspect_->add_option("--platform", copy_flags_.platform,
                       "Which image of an index to describe (default: this host's)");
  AddConnectionFlags(inspect_, conn_);

  tags_ = app.add_subcommand("tags", "List the tags of a repository");
  tags_->add_option("repository", src_, "Repository, e.g. localhost:5000/app")->required();
  tags_->add_flag("--json", copy_flags_.json, "Print a JSON array");
  AddConnectionFlags(tags_, conn_);

  catalog_ = app.add_subcommand("catalog", "List the repositories of a registry");
  catalog_->add_option("host", src_, "Registry host[:port]")->required();
  catalog_->add_flag("--json", copy_flags_.json, "Print a JSON array");
  AddConnectionFlags(catalog_, conn_);

  login_ = app.add_subcommand("login", "Check and store credentials for a registry");
  login_->add_option("host", src_, "Registry host[:port]")->required();
  login_->add_option("--username,-u", username_, "User name");
  login_->add_option("--password,-p", password_, "Password (prefer --password-stdin)");
  login_->add_flag("--password-stdin", password_stdin_, "Read the password from stdin");
  AddConnectionFlags(login_, conn_);

  logout_ = app.add_subcommand("logout", "Remove stored credentials for a registry");
  logout_->add_option("host", src_, "Registry host[:port]")->required();
  logout_->add_option("--authfile", conn_.authfile, "Docker config file with credentials");
}

bool CliCommands::Owns(int argc, char** argv) const {
  if (argc < 2) return false;
  std::string cmd = argv[1];
  for (const CLI::App* c : {copy_, pull_, push_, inspect_, tags_, catalog_, login_, logout_}) {
    if (c->get_name() == cmd) return true;
  }
  return false;
}

int CliCommands::Run(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (copy_flags_.json && copy_flags_.quiet) return Usage("--json and --quiet exclude each other");
  if (*copy_) return RunCopy(src_, dst_, "copy");
  if (*pull_) {
    Result<Place> src = ParsePlace(src_);
    if (!src.ok()) return Usage(src.status().message());
    if (src->local()) return Usage("pull takes a registry reference; use `hoist copy` for " + src_);
    std::string out = output_;
    if (out.empty()) {
      // The local image store: one layout, images named by full reference.
      out = std::string("oci:") + kDefaultPullDir;
    }
    return RunCopy(src_, out, "pull");
  }
  if (*push_) return RunCopy(src_, dst_, "push");
  if (*inspect_) return RunInspect();
  if (*tags_) return RunTags();
  if (*catalog_) return RunCatalog();
  if (*login_) return RunLogin();
  if (*logout_) return RunLogout();
  return kExitUsage;
}

int CliCommands::RunCopy(const std::string& src_text, const std::string& dst_text,
                         const std::string& verb) {
  Result<Place> src = ParsePlace(src_text);
  if (!src.ok()) return Usage(src.status().message());
  Result<Place> dst = ParsePlace(dst_text);
  if (!dst.ok()) return Usage(dst.status().message());
  if (verb == "push" && !src->local()) {
    return Usage(
        "push takes a local image (oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE); "
        "use `hoist copy` between registries");
  }
  if (verb == "push" && dst->local())
    return Usage("push takes a registry reference as destination");
  if (!verify_keys_.empty() && (src->local() || !verifier_)) {
    return Usage("--verify needs a registry source (signatures live in registries)");
  }
  CopyOptions opts;
  if (!copy_flags_.platform.empty()) {
    Result<Platform> p = Platform::Parse(copy_flags_.platform);
    if (!p.ok()) return Usage(p.status().message());
    opts.platform = *p;
  } else if (verb == "pull") {
    opts.platform = Platform::Host();  // pull is for builds on this host
  }
  // `pull` with the default output names the image by its full reference.
  std::string layout_name;
  if (verb == "pull" && output_.empty()) layout_name = src->ref->String();
  // `pull REF --output oci:DIR` names the image by REF's tag.
  if (verb == "pull" && dst->kind == PlaceKind::kLayout && dst->tag.empty())
    dst->tag = src->ref->tag();

  ProgressMode mode = copy_flags_.json    ? ProgressMode::kJson
                      : copy_flags_.quiet ? ProgressMode::kQuiet
                                          : AutoMode(stderr);
  std::unique_ptr<Progress> progress = MakeProgress(mode);
  RegistryClientOptions client_opts = ClientOptions(conn_);
  Progress* p = progress.get();
  client_opts.on_retry = [p](const std::string& why) { p->Retrying(why); };
  Places places(client_opts);

  if (!verify_keys_.empty()) {
    Result<Digest> signed_digest =
        verifier_(*places.Client(src->ref->domain()), *src->ref, verify_keys_);
    if (!signed_digest.ok())
      return signed_digest.status().code() == Code::kInvalidArgument
                 ? Usage(signed_digest.status().message())
                 : Fail(signed_digest.status());
    src->ref = src->ref->WithDigest(*signed_digest);
  }
  Result<std::unique_ptr<ImageSource>> source = places.OpenSource(*src);
  if (!source.ok()) return Fail(source.status());
  Result<std::unique_ptr<ImageSink>> sink = Status(Code::kInternal, "");
  if (!layout_name.empty()) {
    Result<std::unique_ptr<LayoutSink>> s = LayoutSink::Open(dst->path, layout_name, dst->text);
    if (s.ok())
      sink = std::unique_ptr<ImageSink>(std::move(*s));
    else
      sink = s.status();
  } else {
    sink = places.OpenSink(*dst, &*src);
  }
  if (!sink.ok()) return FailPlace(sink.status());
  opts.jobs = copy_flags_.jobs;
  opts.progress = progress.get();
  Result<CopySummary> result = Copy(**source, **sink, opts);
  sink->reset();
  source->reset();
  progress.reset();  // finish drawing before the last line
  if (!result.ok()) {
    const Status& st = result.status();
    return Fail(
        Status(st.code(), verb + " " + src_text + " -> " + dst_text + " failed: " + st.message()));
  }
  if (!copy_flags_.json) std::printf("%s\n", result->top.digest.str().c_str());
  return kExitOk;
}

int CliCommands::RunInspect() {
  Result<Place> place = ParsePlace(src_);
  if (!place.ok()) return Usage(place.status().message());
  std::optional<Platform> want;
  if (!copy_flags_.platform.empty()) {
    Result<Platform> p = Platform::Parse(copy_flags_.platform);
    if (!p.ok()) return Usage(p.status().message());
    want = *p;
  }
  Places places(ClientOptions(conn_));
  Result<std::unique_ptr<ImageSource>> source = places.OpenSource(*place);
  if (!source.ok()) return Fail(source.status());
  ImageSource& src = **source;
  Result<Manifest> top = src.TopManifest();
  if (!top.ok()) return Fail(top.status());
  if (raw_ && !config_) {
    std::fwrite(top->bytes.data(), 1, top->bytes.size(), stdout);
    return kExitOk;
  }
  Manifest image = *top;
  if (top->is_index()) {
    Result<ManifestContents> c = ParseManifest(*top);
    if (!c.ok()) return Fail(c.status());
    Result<Descriptor> d = SelectPlatform(*top, *c, want ? *want : Platform::Host());
    if (!d.ok()) return Fail(d.status());
    Result<Manifest> m = src.ChildManifest(*d);
    if (!m.ok()) return Fail(m.status());
    image = *m;
  }
  Result<ManifestContents> contents = ParseManifest(image);
  if (!contents.ok()) return Fail(contents.status());
  const Descriptor& cd = *contents->config;
  Result<std::unique_ptr<ByteSource>> blob = src.OpenBlob(cd);
  if (!blob.ok()) return Fail(blob.status());
  VerifyingReader verified(std::move(*blob), cd, src.Name());
  Result<std::string> config_bytes = ReadAllLimited(verified, 64 << 20);
  if (!config_bytes.ok()) return Fail(config_bytes.status());
  json config = json::parse(*config_bytes, nullptr, false);
  if (!config.is_object())
    return Fail(Status(Code::kManifestInvalid, "config " + cd.digest.str() + " is not JSON"));
  if (config_) {
    if (raw_) {
      std::fwrite(config_bytes->data(), 1, config_bytes->size(), stdout);
    } else {
      std::printf("%s\n", config.dump(4).c_str());
    }
    return kExitOk;
  }
  // skopeo inspect's fields, in its order.
  nlohmann::ordered_json out;
  json repo_tags = json::array();
  if (place->kind == PlaceKind::kRegistry) {
    out["Name"] = place->ref->Name();
    Result<std::vector<std::string>> tags =
        places.Client(place->ref->domain())->ListTags(place->ref->path());
    if (tags.ok()) repo_tags = *tags;
  } else {
    out["Name"] = "";
  }
  out["Digest"] = top->digest.str();
  out["RepoTags"] = repo_tags;
  if (config.contains("created")) out["Created"] = config["created"];
  out["DockerVersion"] = config.value("docker_version", "");
  const json empty_obj = json::object();
  const json& cfg =
      config.contains("config") && config["config"].is_object() ? config["config"] : empty_obj;
  out["Labels"] = cfg.contains("Labels") ? cfg["Labels"] : json(nullptr);
  out["Architecture"] = config.value("architecture", "");
  out["Os"] = config.value("os", "");
  if (config.contains("variant")) out["Variant"] = config["variant"];
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  nlohmann::ordered_json layers_data = nlohmann::ordered_json::array();
  for (const Descriptor& l : contents->layers) {
    layers.push_back(l.digest.str());
    nlohmann::ordered_json ld;
    ld["MIMEType"] = l.media_type;
    ld["Digest"] = l.digest.str();
    ld["Size"] = l.size;
    ld["Annotations"] = nullptr;
    layers_data.push_back(std::move(ld));
  }
  out["Layers"] = std::move(layers);
  out["LayersData"] = std::move(layers_data);
  out["Env"] = cfg.contains("Env") ? cfg["Env"] : json(nullptr);
  std::printf("%s\n", out.dump(4).c_str());
  return kExitOk;
}

int CliCommands::RunTags() {
  Result<Reference> ref = Reference::Parse(src_, /*default_tag=*/false);
  if (!ref.ok()) return Usage(ref.status().message());
  RegistryClient client(ref->domain(), ClientOptions(conn_));
  Result<std::vector<std::string>> tags = client.ListTags(ref->path());
  if (!tags.ok()) return Fail(tags.status());
  PrintList(*tags, copy_flags_.json);
  return kExitOk;
}

int CliCommands::RunCatalog() {
  Result<std::string> host = NormalizeRegistryHost(src_);
  if (!host.ok()) return Usage(host.status().message());
  RegistryClient client(*host, ClientOptions(conn_));
  Result<std::vector<std::string>> repos = client.Catalog();
  if (!repos.ok()) return Fail(repos.status());
  PrintList(*repos, copy_flags_.json);
  return kExitOk;
}

int CliCommands::RunLogin() {
  Result<std::string> host = NormalizeRegistryHost(src_);
  if (!host.ok()) return Usage(host.status().message());
  if (password_stdin_ && !password_.empty()) {
    return Usage("--password and --password-stdin exclude each other");
  }
  if (password_stdin_ && username_.empty()) return Usage("--password-stdin needs --username");
  if (username_.empty()) {
    if (!::isatty(0))
      return Usage("login needs --username (and --password-stdin) when not interactive");
    std::fprintf(stderr, "Username: ");
    std::getline(std::cin, username_);
  }
  if (password_stdin_) {
    std::string all, line;
    bool first = true;
    while (std::getline(std::cin, line)) {
      all += (first ? "" : "\n") + line;
      first = false;
    }
    while (!all.empty() && (all.back() == '\n' || all.back() == '\r')) all.pop_back();
    password_ = all;
  } else if (!password_.empty()) {
    std::fprintf(stderr,
                 "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
  } else {
    password_ = ReadPasswordFromTty("Password: ");
  }
  if (username_.empty() || password_.empty()) return Usage("login needs a username and a password");
  RegistryClientOptions opts = ClientOptions(conn_);
  opts.credential = Credential{username_, password_};
  RegistryClient client(*host, opts);
  Status st = client.Ping(/*check_credentials=*/true);
  if (!st.ok()) return Fail(Status(st.code(), "login to " + *host + " failed: " + st.message()));
  CredentialStore store(conn_.authfile);
  st = store.Store(*host, Credential{username_, password_});
  if (!st.ok())
    return Fail(
        Status(st.code(), "login to " + *host + " succeeded but saving failed: " + st.message()));
  std::fprintf(stderr, "Login Succeeded (credentials saved in %s)\n", store.path().c_str());
  return kExitOk;
}

int CliCommands::RunLogout() {
  Result<std::string> host = NormalizeRegistryHost(src_);
  if (!host.ok()) return Usage(host.status().message());
  CredentialStore store(conn_.authfile);
  Status st = store.Erase(*host);
  if (st.code() == Code::kNotFound) {
    std::fprintf(stderr, "Not logged in to %s\n", host->c_str());
    return kExitOk;
  }
  if (!st.ok()) return Fail(st);
  std::fprintf(stderr, "Removed login credentials for %s\n", host->c_str());
  return kExitOk;
}

}  // namespace hoist::transfer
