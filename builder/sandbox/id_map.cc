#include "builder/sandbox/id_map.h"

#include <charconv>
#include <sstream>

namespace hoist::sandbox {
namespace {

std::optional<uint32_t> Forward(const std::vector<IdRange>& ranges, uint32_t id) {
  for (const IdRange& r : ranges) {
    if (id >= r.inside && id - r.inside < r.count) return r.outside + (id - r.inside);
  }
  return std::nullopt;
}

std::optional<uint32_t> Backward(const std::vector<IdRange>& ranges, uint32_t id) {
  for (const IdRange& r : ranges) {
    if (id >= r.outside && id - r.outside < r.count) return r.inside + (id - r.outside);
  }
  return std::nullopt;
}

std::optional<uint32_t> ParseU32(std::string_view s) {
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

IdMap IdMap::Identity() {
  IdMap m;
  m.uids = {{0, 0, 4294967295u}};
  m.gids = {{0, 0, 4294967295u}};
  return m;
}

IdMap IdMap::SingleRoot(uint32_t uid, uint32_t gid) {
  IdMap m;
  m.uids = {{0, uid, 1}};
  m.gids = {{0, gid, 1}};
  return m;
}

std::optional<uint32_t> IdMap::HostUid(uint32_t c) const {
  return Forward(uids, c);
}
std::optional<uint32_t> IdMap::HostGid(uint32_t c) const {
  return Forward(gids, c);
}
std::optional<uint32_t> IdMap::ContainerUid(uint32_t h) const {
  return Backward(uids, h);
}
std::optional<uint32_t> IdMap::ContainerGid(uint32_t h) const {
  return Backward(gids, h);
}

bool IdMap::single() const {
  auto one = [](const std::vector<IdRange>& r) {
    return r.size() == 1 && r[0].inside == 0 && r[0].count == 1;
  };
  return one(uids) && one(gids);
}

std::string MapText(const std::vector<IdRange>& ranges) {
  std::string out;
  for (const IdRange& r : ranges) {
    out += std::to_string(r.inside) + " " + std::to_string(r.outside) + " " +
           std::to_string(r.count) + "\n";
  }
  return out;
}

std::optional<IdRange> FindSubordinate(const std::string& text, const std::string& name,
                                       uint32_t id) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t a = line.find(':');
    size_t b = a == std::string::npos ? a : line.find(':', a + 1);
    if (b == std::string::npos) continue;
    std::string_view who(line.data(), a);
    std::optional<uint32_t> start = ParseU32(std::string_view(line).substr(a + 1, b - a - 1));
    std::optional<uint32_t> count = ParseU32(std::string_view(line).substr(b + 1));
    if (!start || !count || *count == 0) continue;
    std::optional<uint32_t> who_id = ParseU32(who);
    if ((!name.empty() && who == name) || (who_id && *who_id == id)) {
      return IdRange{1, *start, *count};
    }
  }
  return std::nullopt;
}

}  // namespace hoist::sandbox
