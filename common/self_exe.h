// Where the running hoist binary lives, for starting it again (`hoist up`'s
// registry, the user-namespace re-exec) and for finding files installed
// beside it (the BuildKit plugin).
#pragma once

#include <string>

#include "common/status.h"

namespace hoist {

// The absolute path of this executable: the /proc/self/exe link (proc(5)).
Result<std::string> SelfExe();

}  // namespace hoist
