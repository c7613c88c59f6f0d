// Users and groups of a stage's root: --chown "user[:group]" (copy.h) and
// RUN's USER (run.h) to numeric ids through the stage's /etc/passwd and
// /etc/group, with the wording of Docker's errors (runc's user package:
// "unable to find user NAME: no matching entries in passwd file").
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>

#include "builder/dockerfile/text.h"
#include "builder/engine/copy.h"
#include "builder/engine/run.h"
#include "builder/engine/tree_util.h"

namespace hoist::engine {
namespace {

std::optional<uint32_t> ParseId(std::string_view s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xFFFFFFFFu) return std::nullopt;
  return static_cast<uint32_t>(v);
}

// The text of a file of the root filesystem `root`, opened confined to it;
// nullopt when it does not exist (or there is no root).
Result<std::optional<std::string>> ReadRootFile(const std::string& root, std::string_view path) {
  if (root.empty()) return std::optional<std::string>();
  Result<store::UniqueFd> fd = OpenInRoot(root, path);
  if (!fd.ok()) {
    if (fd.status().code() == Code::kNotFound) return std::optional<std::string>();
    return fd.status();
  }
  std::string text;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read", std::string(path));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > (64u << 20)) {
      return Status(Code::kInvalidArgument, "/" + std::string(path) + " is too large");
    }
  }
  return std::optional<std::string>(std::move(text));
}

// The fields of the first line of a passwd/group file whose field `field`
// is `key` (comment and malformed lines skipped); empty when none.
std::vector<std::string> FindEntry(const std::string& text, std::string_view key, size_t min_fields,
                                   size_t field = 0) {
  for (const std::string& line : dockerfile::text::Split(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = dockerfile::text::Split(line, ':');
    if (f.size() >= min_fields && f[field] == key) return f;
  }
  return {};
}

}  // namespace

Result<Owner> ResolveChown(std::string_view spec, const std::string& stage_root) {
  Owner o;
  if (spec.empty()) return o;
  size_t colon = spec.find(':');
  std::string_view user = spec.substr(0, colon);
  std::string_view group = colon == std::string_view::npos ? "" : spec.substr(colon + 1);

  if (std::optional<uint32_t> uid = ParseId(user)) {
    o.uid = o.gid = *uid;
  } else if (!user.empty()) {
    Result<std::optional<std::string>> passwd = ReadRootFile(stage_root, "etc/passwd");
    if (!passwd.ok()) return passwd.status();
    std::vector<std::string> f =
        *passwd ? FindEntry(**passwd, user, 4) : std::vector<std::string>();
    std::optional<uint32_t> uid = f.empty() ? std::nullopt : ParseId(f[2]);
    std::optional<uint32_t> gid = f.empty() ? std::nullopt : ParseId(f[3]);
    if (!uid || !gid) {
      return Status(Code::kInvalidArgument, "unable to find user " + std::string(user) +
                                                ": no matching entries in passwd file");
    }
    o.uid = *uid;
    o.gid = *gid;
  }
  if (colon == std::string_view::npos) return o;
  if (std::optional<uint32_t> gid = ParseId(group)) {
    o.gid = *gid;
    return o;
  }
  // "user:" keeps the user's group; ":" (what --chown=${A}:${B} gives with
  // both unset) is 0:0, as BuildKit reads it.
  if (group.empty()) return o;
  Result<std::optional<std::string>> groups = ReadRootFile(stage_root, "etc/group");
  if (!groups.ok()) return groups.status();
  std::vector<std::string> f = *groups ? FindEntry(**groups, group, 3) : std::vector<std::string>();
  std::optional<uint32_t> gid = f.empty() ? std::nullopt : ParseId(f[2]);
  if (!gid) {
    return Status(Code::kInvalidArgument, "unable to find group " + std::string(group) +
                                              ": no matching entries in group file");
  }
  o.gid = *gid;
  return o;
}

Result<ExecUser> ResolveExecUser(std::string_view spec, const std::string& root) {
  ExecUser u;
  if (spec.empty()) spec = "root";
  size_t colon = spec.find(':');
  std::string_view user = spec.substr(0, colon);
  std::string_view group = colon == std::string_view::npos ? "" : spec.substr(colon + 1);
  Result<std::optional<std::string>> passwd = ReadRootFile(root, "etc/passwd");
  if (!passwd.ok()) return passwd.status();
  std::string pw = passwd->value_or("");
  std::optional<uint32_t> uid = ParseId(user);
  // A number is looked up as a uid (runc), a name as a name.
  std::vector<std::string> entry =
      uid ? FindEntry(pw, std::to_string(*uid), 4, 2) : FindEntry(pw, user, 4);
  if (!uid && entry.empty()) {
    if (user == "root" && pw.empty()) {
      entry = {"root", "x", "0", "0", "", "/root"};
    } else {
      return Status(Code::kInvalidArgument, "unable to find user " + std::string(user) +
                                                ": no matching entries in passwd file");
    }
  }
  std::string name = entry.empty() ? "" : entry[0];
  u.uid = uid ? *uid : ParseId(entry[2]).value_or(0);
  u.gid = entry.empty() ? 0 : ParseId(entry[3]).value_or(0);
  if (entry.size() > 5 && !entry[5].empty()) u.home = entry[5];
  Result<std::optional<std::string>> groups = ReadRootFile(root, "etc/group");
  if (!groups.ok()) return groups.status();
  std::string gr = groups->value_or("");
  if (!group.empty()) {
    if (std::optional<uint32_t> gid = ParseId(group)) {
      u.gid = *gid;
      return u;
    }
    std::vector<std::string> f = FindEntry(gr, group, 3);
    std::optional<uint32_t> gid = f.empty() ? std::nullopt : ParseId(f[2]);
    if (!gid) {
      return Status(Code::kInvalidArgument, "unable to find group " + std::string(group) +
                                                ": no matching entries in group file");
    }
    u.gid = *gid;
    return u;
  }
  if (name.empty()) return u;
  for (const std::string& line : dockerfile::text::Split(gr, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = dockerfile::text::Split(line, ':');
    if (f.size() < 4) continue;
    for (const std::string& member : dockerfile::text::Split(f[3], ',')) {
      std::optional<uint32_t> gid = ParseId(f[2]);
      if (member == name && gid && *gid != u.gid) u.groups.push_back(*gid);
    }
  }
  return u;
}

}  // namespace hoist::engine
