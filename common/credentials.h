// Registry credentials the way Docker keeps them: the client config file
// ($DOCKER_CONFIG/config.json, else ~/.docker/config.json) with
//   "auths":       { "<host>": { "auth": base64("user:password") } }
//   "credsStore":  "<name>"            -> docker-credential-<name> for all hosts
//   "credHelpers": { "<host>": "<name>" } -> per host, wins over credsStore
// A helper is run as `docker-credential-<name> get|store|erase` with the
// protocol of docker/docker-credential-helpers (JSON on stdin/stdout).
// Docker Hub is stored under "https://index.docker.io/v1/".
//
// Thread-safety: Get may be called from several threads; Store/Erase are
// for the `login`/`logout` commands (one process at a time).
#pragma once

#include <string>
#include <string_view>

#include "common/base64.h"
#include "common/status.h"

namespace hoist {

struct Credential {
  std::string username;
  std::string password;  // or an identity token when username is "<token>"
  bool empty() const { return username.empty() && password.empty(); }
};

// The config file path: $DOCKER_CONFIG/config.json, else
// $HOME/.docker/config.json.
std::string DefaultDockerConfigPath();

class CredentialStore {
 public:
  // `config_path` empty means DefaultDockerConfigPath().
  explicit CredentialStore(std::string config_path = {});

  // Credentials for `registry` (a normalised host, e.g. "docker.io",
  // "localhost:5000"); an empty Credential when none are stored. Errors:
  // an unreadable/malformed config file, a failing helper.
  Result<Credential> Get(std::string_view registry) const;
  // Saves credentials (through the helper when one is configured, else in
  // "auths"); the file is rewritten atomically with mode 0600, keeping
  // every other key.
  Status Store(std::string_view registry, const Credential& cred) const;
  // Removes them; kNotFound when there were none.
  Status Erase(std::string_view registry) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Reads a line from the controlling terminal with echo off, after
// printing `prompt` there; empty when there is no terminal.
std::string ReadPasswordFromTty(const char* prompt);

}  // namespace hoist
