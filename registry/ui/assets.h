// The registry's web UI (registry/ui/: HTML, JavaScript, CSS), built into
// the binary by embed.cmake and served at /ui/ (api.h). The UI is a client
// of the registry's own distribution API, so it sees exactly what the
// caller's credentials allow.
#pragma once

#include <string_view>
#include <vector>

namespace hoist::registry::ui {

struct Asset {
  std::string_view path;  // below /ui/, e.g. "index.html"
  std::string_view bytes;
};

const std::vector<Asset>& Assets();

// The asset for a path below /ui/ ("" is index.html); nullptr when none.
const Asset* Find(std::string_view path);
// Its Content-Type, from the extension.
std::string_view ContentType(std::string_view path);

}  // namespace hoist::registry::ui
