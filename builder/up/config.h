// The `hoist up` file (hoist.yaml): one local registry and the images it
// should hold, each produced by a BuildStrategy (strategy.h).
//
//   registry: { name, port (0 = dynamic), storage, health: {path, interval, timeout} }
//     storage: a directory, or an S3 bucket:
//       { s3: { endpoint, bucket, region, root_directory, virtual_host } }
//       (the keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)
//   images:
//     - name, prefix, tag (default latest), depends_on: [names],
//       sign: KEY (this image's signing key, over the file's),
//       sbom: true|false (attach an SPDX document; over the file's),
//       verify: PUB | [PUB...] (a `source` from a registry must be signed
//         by one of these public keys; the signed digest is what is copied)
//       and exactly one of
//         dockerfile: { context, file, args: {K: V}, target, platform }
//           (platform: os/arch, or a comma-separated list: an image index)
//         source: REF | oci:DIR[:TAG] | oci-archive:FILE | docker-archive:FILE
//         command: { run: "shell command", output: DIR }
//   build: { parallel (default 3), retries, backoff, timeout }
//   sign: KEY   sign every pushed image with this key (builder/sign); the
//               passphrase from HOIST_SIGN_PASSWORD or COSIGN_PASSWORD
//   sbom: true  attach an SPDX 2.3 document to every pushed image
//
// Every error names the file, the line (and column) and the field:
//   "hoist.yaml:12:7: images[1].dockerfile: unknown key \"contex\" (...)".
// Unknown keys, missing fields, bad values, duplicate names or final
// references, unknown or cyclic depends_on are all errors. Relative paths
// are kept as written; ResolvePath makes them absolute against the file's
// directory.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace hoist::up {

using Millis = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

struct HealthSpec {
  std::string path = "/v2/";
  Millis interval{1000};  // between checks while the registry runs
  Millis timeout{30000};  // longest wait for the first passing check
};

// An S3 bucket for the registry's storage (`hoist registry serve --storage s3`).
struct S3StorageSpec {
  std::string endpoint;  // URL; http:// for a loopback gateway
  std::string bucket;
  std::string region = "us-east-1";
  std::string root_directory;  // a key prefix; "" = the bucket's root
  bool virtual_host = false;   // bucket.host addressing instead of host/bucket
};

struct RegistrySpec {
  std::string name = "registry";
  int port = 0;                             // 0: a free port, allocated at start
  std::string storage = ".hoist/registry";  // relative to the file's directory
  std::optional<S3StorageSpec> s3;          // set: the bucket, not `storage`
  HealthSpec health;
};

struct DockerfileSpec {
  std::string context;                      // directory, relative to the file's directory
  std::string file;                         // relative to the context; "" = Dockerfile
  std::map<std::string, std::string> args;  // ${REGISTRY} is substituted
  std::string target;
  std::string platform;
};

struct CommandSpec {
  std::string run;     // given to `sh -c`
  std::string output;  // where the OCI layout is written; "" = a work dir
};

// One declared image. `kind` is the key of the block that produces it
// ("dockerfile", "source", "command"): the name the strategy is registered
// under (strategy.h). Only the member of that kind is meaningful.
struct ImageSpec {
  std::string name;
  std::string prefix;  // "" or a path such as "your/custom/prefix"
  std::string tag = "latest";
  std::vector<std::string> depends_on;
  std::string kind;
  DockerfileSpec dockerfile;
  std::string source;  // ${REGISTRY} is substituted
  CommandSpec command;
  std::string sign;                 // a private key file; "" = the file's `sign`
  std::vector<std::string> verify;  // public key files (source images)
  std::optional<bool> sbom;         // unset: the file's `sbom`
  int line = 0;                     // where the entry starts in the file (1-based)

  // "<prefix>/<name>" or "<name>": the repository in the registry.
  std::string Repository() const;
  // "<host:port>/<prefix>/<name>:<tag>".
  std::string FinalReference(const std::string& registry) const;
};

struct BuildSettings {
  int parallel = 3;         // image jobs at once
  int retries = 3;          // after the first try: registry start, pushes
  Millis backoff{1000};     // first retry delay; doubles, capped at max(30s, backoff)
  Millis timeout{1800000};  // per image; 0 = none
};

struct UpFile {
  std::string path;      // as given
  std::string base_dir;  // absolute directory of the file
  RegistrySpec registry;
  std::vector<ImageSpec> images;  // in file order
  BuildSettings build;
  std::string sign;   // the private key file every image is signed with; "" = none
  bool sbom = false;  // attach an SPDX document to every image (unless it says no)

  // Index of the image named `name`, or -1.
  int Find(std::string_view name) const;
};

// The strategy keys the parser knows, in the order errors list them.
const std::vector<std::string>& StrategyKeys();

// Parses `text` as the file `path` (used in errors; base_dir is taken from
// it). Errors: kInvalidArgument, message "PATH:LINE:COL: FIELD: what".
Result<UpFile> ParseUpFile(const std::string& text, const std::string& path);
// Reads and parses `path`. kNotFound when it does not exist.
Result<UpFile> LoadUpFile(const std::string& path);

// The absolute directory `path` (a file) is in.
std::string FileDir(const std::string& path);

// `p` made absolute against `base_dir` (unchanged when already absolute).
std::string ResolvePath(const std::string& base_dir, const std::string& p);

// Replaces every "${REGISTRY}" in `s` with `registry`.
std::string SubstituteRegistry(std::string s, const std::string& registry);

// A Go duration ("250ms", "2s", "1m30s", "1.5h") or a bare number of
// seconds; at most a week. False when bad.
bool ParseDuration(std::string_view s, Millis* out);
// "1.5s", "250ms", "2m0s": for messages.
std::string FormatDuration(Millis d);

}  // namespace hoist::up
