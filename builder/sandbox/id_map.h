// IdMap: which host uid/gid a container uid/gid is, as a user namespace's
// uid_map and gid_map say (user_namespaces(7)), plus the subordinate id
// ranges of /etc/subuid and /etc/subgid (subuid(5)) that newuidmap(1)
// accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace hoist::sandbox {

// One line of a uid_map/gid_map: container ids [inside, inside+count) are
// host ids [outside, outside+count).
struct IdRange {
  uint32_t inside = 0, outside = 0, count = 0;
};

struct IdMap {
  std::vector<IdRange> uids, gids;

  // Every id is itself (root's view, or no user namespace).
  static IdMap Identity();
  // Only container root, as the host ids `uid`/`gid` (a user namespace
  // without subordinate ids).
  static IdMap SingleRoot(uint32_t uid, uint32_t gid);

  // Container id -> host id; nullopt when unmapped.
  std::optional<uint32_t> HostUid(uint32_t container) const;
  std::optional<uint32_t> HostGid(uint32_t container) const;
  // Host id -> container id; nullopt when unmapped (the kernel then shows
  // the overflow id 65534).
  std::optional<uint32_t> ContainerUid(uint32_t host) const;
  std::optional<uint32_t> ContainerGid(uint32_t host) const;
  // True when container uid/gid 0 is the only id mapped.
  bool single() const;
};

// The text written to /proc/PID/uid_map (or gid_map) for `ranges`.
std::string MapText(const std::vector<IdRange>& ranges);

// The first range /etc/subuid-format `text` grants to the user `name` or
// uid `id` ("name:start:count" or "id:start:count" lines), as the IdRange
// that maps container ids from 1 onto it; nullopt when none.
std::optional<IdRange> FindSubordinate(const std::string& text, const std::string& name,
                                       uint32_t id);

}  // namespace hoist::sandbox
