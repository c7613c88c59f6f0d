// The signing subcommands of the `hoist` binary as library calls, so
// cli/main.cc only wires them in:
//
//   hoist sign IMAGE --key KEY      sign (cosign's key-pair signatures)
//   hoist sign --generate-key PFX   write PFX.key (encrypted) and PFX.pub
//   hoist verify IMAGE --key PUB    check every signature, say who signed what
//
// The passphrase of an encrypted key comes from HOIST_SIGN_PASSWORD, else
// COSIGN_PASSWORD (cosign's), else a prompt on the terminal.
//
// Exit codes: 0 success (verify: at least one valid signature), 1 failure
// (verify: none valid), 2 usage.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "builder/sign/attach.h"
#include "builder/transfer/cli_commands.h"

namespace hoist::sign {

// The passphrase for a key: the environment's, else the terminal's
// (asked twice when `confirm`); kInvalidArgument when neither is there.
Result<std::string> Passphrase(bool confirm);

// Reads public key files; kInvalidArgument naming the file that is not one.
Result<std::vector<NamedKey>> LoadPublicKeys(const std::vector<std::string>& paths);
// Reads a private key file, asking for the passphrase only when it is
// encrypted.
Result<PrivateKey> LoadPrivateKey(const std::string& path);

// Verifies the signatures of `ref` against `keys` and prints one line per
// signature (or, with `json`, one JSON document) to stdout. Returns the
// number valid, or the error that kept it from looking.
Result<int> VerifyAndReport(RegistryClient& client, const Reference& ref,
                            const std::vector<NamedKey>& keys, const std::string& identity,
                            bool json);

// Loads the keys, finds the signatures of `ref` and returns its digest
// when one is valid, with a line saying who signed it; kDenied listing
// what was found otherwise, kInvalidArgument for a bad key file.
struct SourceVerdict {
  Digest digest;
  std::string line;  // "verified REPO@DIGEST: signed by KEY as IDENTITY"
};
Result<SourceVerdict> CheckSource(RegistryClient& client, const Reference& ref,
                                  const std::vector<std::string>& key_files);
// transfer::SourceVerifier for `copy`/`pull --verify`: CheckSource, the
// line on stderr.
Result<Digest> VerifySource(RegistryClient& client, const Reference& ref,
                            const std::vector<std::string>& key_files);

class CliCommands {
 public:
  // Adds the subcommands to `app`. `app` must outlive this object.
  explicit CliCommands(CLI::App& app);

  bool Owns(int argc, char** argv) const;
  int Run(int argc, char** argv);

 private:
  int RunSign();
  int RunGenerateKey();
  int RunVerify();

  CLI::App& app_;
  CLI::App *sign_, *verify_;
  transfer::ConnectionFlags conn_;
  std::string image_, key_, generate_, identity_;
  std::vector<std::string> pub_keys_;
  bool no_referrer_ = false, no_tag_ = false, json_ = false;
};

}  // namespace hoist::sign
