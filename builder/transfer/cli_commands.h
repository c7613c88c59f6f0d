// The image-transfer subcommands of the `hoist` binary as library calls,
// so cli/main.cc only wires them in:
//
//   hoist copy SRC DST            any place to any place (place.h)
//   hoist pull REF [--output oci:DIR[:TAG]]
//   hoist push SRC REF            a local place (oci:, oci-archive:, docker-archive:) to a registry
//   hoist inspect REF [--raw] [--config]
//   hoist tags REPO  |  hoist catalog HOST
//   hoist login HOST [-u USER] [--password-stdin]  |  hoist logout HOST
//
// Exit codes: 0 success, 1 failure (network, auth, verification, ...),
// 2 usage (bad flags, malformed references or places).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/reference.h"
#include "common/registry_client.h"

namespace hoist::transfer {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Flags every command that talks to registries takes.
struct ConnectionFlags {
  bool tls_verify = true;
  std::string ca_cert;
  std::vector<std::string> plain_http;
  int retries = 4;
  int timeout_sec = 60;
  std::string authfile;
};

// Adds the ConnectionFlags options (--tls-verify, --ca-cert, --plain-http,
// --retries, --timeout, --authfile) to a command.
void AddConnectionFlags(CLI::App* c, ConnectionFlags& f);
// The registry client options those flags ask for.
RegistryClientOptions ClientOptions(const ConnectionFlags& f);

// Flags of the commands that copy.
struct CopyFlags {
  std::string platform;
  int jobs = 4;
  bool quiet = false;
  bool json = false;
};

// Checks a registry source's signatures before `copy`/`pull --verify`
// copies anything: the digest signed by one of the public keys in
// `key_files`, which is then what is copied (a tag moved meanwhile changes
// nothing), or why not. builder/sign provides it (sign::VerifySource);
// transfer only calls it, so the copy path does not link the crypto.
using SourceVerifier = std::function<Result<Digest>(RegistryClient& client, const Reference& ref,
                                                    const std::vector<std::string>& key_files)>;

class CliCommands {
 public:
  // Adds the subcommands to `app`. `app` must outlive this object.
  explicit CliCommands(CLI::App& app);
  // Enables --verify on copy and pull.
  void SetSourceVerifier(SourceVerifier v) { verifier_ = std::move(v); }

  // True when argv names one of these subcommands.
  bool Owns(int argc, char** argv) const;
  // Parses argv with `app` and runs the subcommand; returns the exit code.
  int Run(int argc, char** argv);

 private:
  int RunCopy(const std::string& src, const std::string& dst, const std::string& verb);
  int RunInspect();
  int RunTags();
  int RunCatalog();
  int RunLogin();
  int RunLogout();

  CLI::App& app_;
  CLI::App *copy_, *pull_, *push_, *inspect_, *tags_, *catalog_, *login_, *logout_;
  ConnectionFlags conn_;
  CopyFlags copy_flags_;
  std::vector<std::string> verify_keys_;
  SourceVerifier verifier_;
  std::string src_, dst_, output_;
  bool raw_ = false, config_ = false;
  std::string username_, password_;
  bool password_stdin_ = false;
};

}  // namespace hoist::transfer
