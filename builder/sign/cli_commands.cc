#include "builder/sign/cli_commands.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/clock.h"
#include "common/credentials.h"
#include "common/reference.h"

namespace hoist::sign {
namespace {

using nlohmann::json;
using transfer::kExitFailure;
using transfer::kExitOk;
using transfer::kExitUsage;

constexpr size_t kMaxKeyFile = 64 << 10;

int Fail(const Status& st) {
  std::fprintf(stderr, "hoist: %s\n", st.message().c_str());
  return st.code() == Code::kInvalidArgument ? kExitUsage : kExitFailure;
}

Result<std::string> ReadKeyFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kInvalidArgument, "cannot read the key file " + path);
  std::string s(kMaxKeyFile + 1, '\0');
  in.read(s.data(), static_cast<std::streamsize>(s.size()));
  s.resize(static_cast<size_t>(in.gcount()));
  if (s.size() > kMaxKeyFile)
    return Status(Code::kInvalidArgument, path + " is too large for a key");
  return s;
}

// Writes `text` to a new file `path` (never over an existing one) with
// `mode`.
Status WriteNewFile(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return Status(Code::kInvalidArgument,
                  errno == EEXIST ? path + " exists; hoist does not overwrite keys"
                                  : "cannot create " + path + ": " + std::strerror(errno));
  }
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const bool closed = ::close(fd) == 0;
  if (!ok || !closed) {
    ::unlink(path.c_str());
    return Status(Code::kIo, "cannot write " + path);
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> Passphrase(bool confirm) {
  for (const char* env : {"HOIST_SIGN_PASSWORD", "COSIGN_PASSWORD"}) {
    if (const char* v = std::getenv(env)) return std::string(v);
  }
  if (!::isatty(0)) {
    return Status(Code::kInvalidArgument,
                  "the key needs a passphrase: set HOIST_SIGN_PASSWORD (or COSIGN_PASSWORD), "
                  "or run on a terminal");
  }
  std::string p = ReadPasswordFromTty("Passphrase for the key: ");
  if (confirm && ReadPasswordFromTty("Passphrase again: ") != p) {
    return Status(Code::kInvalidArgument, "the passphrases differ");
  }
  return p;
}

Result<std::vector<NamedKey>> LoadPublicKeys(const std::vector<std::string>& paths) {
  std::vector<NamedKey> keys;
  for (const std::string& path : paths) {
    Result<std::string> pem = ReadKeyFile(path);
    if (!pem.ok()) return pem.status();
    Result<PublicKey> k = PublicKey::FromPem(*pem);
    if (!k.ok()) return Status(Code::kInvalidArgument, path + ": " + k.status().message());
    keys.push_back(NamedKey{path, std::move(*k)});
  }
  return keys;
}

Result<PrivateKey> LoadPrivateKey(const std::string& path) {
  Result<std::string> pem = ReadKeyFile(path);
  if (!pem.ok()) return pem.status();
  std::string pass;
  if (PrivateKey::IsEncrypted(*pem)) {
    Result<std::string> p = Passphrase(/*confirm=*/false);
    if (!p.ok()) return p.status();
    pass = std::move(*p);
  }
  Result<PrivateKey> k = PrivateKey::FromPem(*pem, pass);
  if (!k.ok()) return Status(k.status().code(), path + ": " + k.status().message());
  return k;
}

Result<int> VerifyAndReport(RegistryClient& client, const Reference& ref,
                            const std::vector<NamedKey>& keys, const std::string& identity,
                            bool as_json) {
  Result<RemoteManifest> image = ResolveImage(client, ref);
  if (!image.ok()) return image.status();
  Result<std::vector<StoredSignature>> found = FindSignatures(client, ref.path(), image->digest);
  if (!found.ok()) return found.status();
  int valid = 0;
  json report = {
      {"image", ref.String()}, {"digest", image->digest.str()}, {"signatures", json::array()}};
  if (!as_json) std::printf("%s %s\n", ref.String().c_str(), image->digest.str().c_str());
  for (const StoredSignature& s : *found) {
    Verdict v = Check(s, image->digest, keys, identity);
    valid += v.valid ? 1 : 0;
    json e = {{"valid", v.valid}, {"where", s.where}};
    if (!v.valid) e["reason"] = v.reason;
    if (!v.key.empty()) {
      e["key"] = v.key;
      e["identity"] = v.claim.docker_reference;
      e["signedDigest"] = v.claim.digest.str();
      if (!v.claim.creator.empty()) e["creator"] = v.claim.creator;
      if (v.claim.timestamp != 0) e["timestamp"] = FormatUtcSeconds(v.claim.timestamp);
    }
    report["signatures"].push_back(e);
    if (as_json) continue;
    if (v.valid) {
      std::printf("  valid    %s signed by %s", v.claim.docker_reference.c_str(), v.key.c_str());
      if (!v.claim.creator.empty()) std::printf(" with %s", v.claim.creator.c_str());
      if (v.claim.timestamp != 0)
        std::printf(" at %s", FormatUtcSeconds(v.claim.timestamp).c_str());
      std::printf(" (%s)\n", s.where.c_str());
    } else {
      std::printf("  invalid  %s (%s)\n", v.reason.c_str(), s.where.c_str());
    }
  }
  report["valid"] = valid;
  if (as_json) {
    std::printf("%s\n", report.dump().c_str());
  } else {
    std::printf("%d of %zu signatures valid\n", valid, found->size());
  }
  return valid;
}

Result<Digest> VerifySource(RegistryClient& client, const Reference& ref,
                            const std::vector<std::string>& key_files) {
  Result<SourceVerdict> v = CheckSource(client, ref, key_files);
  if (!v.ok()) return v.status();
  std::fprintf(stderr, "%s\n", v->line.c_str());
  return v->digest;
}

Result<SourceVerdict> CheckSource(RegistryClient& client, const Reference& ref,
                                  const std::vector<std::string>& key_files) {
  Result<std::vector<NamedKey>> keys = LoadPublicKeys(key_files);
  if (!keys.ok()) return keys.status();
  Result<RemoteManifest> image = ResolveImage(client, ref);
  if (!image.ok()) return image.status();
  Result<std::vector<StoredSignature>> found = FindSignatures(client, ref.path(), image->digest);
  if (!found.ok()) return found.status();
  std::string why;
  for (const StoredSignature& s : *found) {
    Verdict v = Check(s, image->digest, *keys);
    if (v.valid) {
      return SourceVerdict{image->digest, "verified " + ref.Name() + "@" + image->digest.str() +
                                              ": signed by " + v.key + " as " +
                                              v.claim.docker_reference};
    }
    why += "; " + v.reason + " (" + s.where + ")";
  }
  return Status(Code::kDenied,
                "refusing " + ref.String() + " (" + image->digest.str() +
                    "): " + (found->empty() ? "it has no signatures" : "no valid signature" + why));
}

CliCommands::CliCommands(CLI::App& app) : app_(app) {
  sign_ = app.add_subcommand(
      "sign", "Sign an image in a registry as cosign does with a key pair (or make a key pair)");
  sign_->add_option("image", image_, "The image reference to sign (a tag or @digest)");
  sign_->add_option("--key", key_,
                    "Private key: cosign/sigstore encrypted PEM (passphrase from "
                    "HOIST_SIGN_PASSWORD or COSIGN_PASSWORD) or a plain PEM P-256 key");
  sign_->add_option("--generate-key", generate_,
                    "Write a new key pair to PREFIX.key (encrypted) and PREFIX.pub, sign nothing");
  sign_->add_option("--identity", identity_,
                    "The docker-reference the signature claims (default: the image as named)");
  sign_->add_flag("--no-referrer", no_referrer_, "Store no OCI 1.1 referrer, only the .sig tag");
  sign_->add_flag("--no-tag", no_tag_, "Store no cosign .sig tag, only the referrer");
  sign_->add_flag("--json", json_, "Print the result as JSON");
  transfer::AddConnectionFlags(sign_, conn_);

  verify_ = app.add_subcommand(
      "verify", "Check an image's signatures (cosign .sig tag and OCI 1.1 referrers) with keys");
  verify_->add_option("image", image_, "The image reference")->required();
  verify_->add_option("--key", pub_keys_, "Public key PEM file (repeatable: any of them)")
      ->required()
      ->allow_extra_args(false);
  verify_->add_option("--identity", identity_,
                      "Also require this docker-reference in the signature");
  verify_->add_flag("--json", json_, "Print the findings as one JSON document");
  transfer::AddConnectionFlags(verify_, conn_);
}

bool CliCommands::Owns(int argc, char** argv) const {
  if (argc < 2) return false;
  const std::string cmd = argv[1];
  return cmd == sign_->get_name() || cmd == verify_->get_name();
}

int CliCommands::Run(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app_.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (*sign_) {
    if (!generate_.empty()) {
      if (!image_.empty() || !key_.empty()) {
        return Fail(Status(Code::kInvalidArgument, "--generate-key takes no image and no --key"));
      }
      return RunGenerateKey();
    }
    if (image_.empty() || key_.empty()) {
      return Fail(
          Status(Code::kInvalidArgument, "sign needs an image and --key (or --generate-key)"));
    }
    if (no_referrer_ && no_tag_) {
      return Fail(
          Status(Code::kInvalidArgument, "--no-referrer and --no-tag leave nowhere to store it"));
    }
    return RunSign();
  }
  if (*verify_) return RunVerify();
  return kExitUsage;
}

int CliCommands::RunGenerateKey() {
  Result<std::string> pass = Passphrase(/*confirm=*/true);
  if (!pass.ok()) return Fail(pass.status());
  Result<PrivateKey> key = PrivateKey::Generate();
  if (!key.ok()) return Fail(key.status());
  Result<std::string> pem = key->EncryptedPem(*pass);
  if (!pem.ok()) return Fail(pem.status());
  const std::string priv = generate_ + ".key", pub = generate_ + ".pub";
  if (Status st = WriteNewFile(priv, *pem, 0600); !st.ok()) return Fail(st);
  if (Status st = WriteNewFile(pub, key->Public().Pem(), 0644); !st.ok()) {
    ::unlink(priv.c_str());
    return Fail(st);
  }
  std::fprintf(stderr, "Private key written to %s\nPublic key written to %s (%s)\n", priv.c_str(),
               pub.c_str(), key->Public().Fingerprint().c_str());
  return kExitOk;
}

int CliCommands::RunSign() {
  Result<Reference> ref = Reference::Parse(image_);
  if (!ref.ok()) return Fail(Status(Code::kInvalidArgument, ref.status().message()));
  Result<PrivateKey> key = LoadPrivateKey(key_);
  if (!key.ok()) return Fail(key.status());
  RegistryClient client(ref->domain(), transfer::ClientOptions(conn_));
  SignOptions opt;
  opt.identity = identity_;
  opt.referrer = !no_referrer_;
  opt.tag_scheme = !no_tag_;
  Result<SignResult> r = SignImage(client, *ref, *key, opt);
  if (!r.ok()) return Fail(r.status());
  if (json_) {
    json j = {{"digest", r->image.str()}, {"identity", r->identity}};
    if (!r->tag.empty()) j["tag"] = r->tag;
    if (r->referrer) j["referrer"] = r->referrer->str();
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("signed %s as %s", r->image.str().c_str(), r->identity.c_str());
    if (!r->tag.empty()) std::printf("; tag %s", r->tag.c_str());
    if (r->referrer) std::printf("; referrer %s", r->referrer->str().c_str());
    std::printf("\n");
  }
  return kExitOk;
}

int CliCommands::RunVerify() {
  Result<Reference> ref = Reference::Parse(image_);
  if (!ref.ok()) return Fail(Status(Code::kInvalidArgument, ref.status().message()));
  Result<std::vector<NamedKey>> keys = LoadPublicKeys(pub_keys_);
  if (!keys.ok()) return Fail(keys.status());
  RegistryClient client(ref->domain(), transfer::ClientOptions(conn_));
  Result<int> valid = VerifyAndReport(client, *ref, *keys, identity_, json_);
  if (!valid.ok()) return Fail(valid.status());
  if (*valid == 0) {
    std::fprintf(stderr, "hoist: no valid signature for %s\n", ref->String().c_str());
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace hoist::sign
