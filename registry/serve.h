// `hoist registry serve`: runs the registry process until SIGINT/SIGTERM.
#pragma once

#include <string>

#include "registry/config.h"

namespace hoist::registry {

struct ServeOptions {
  Config config;
  std::string addr_file;  // where to write the bound address, if not empty
};

// Listens, prints the bound address as one line on stdout (and writes it to
// addr_file) once accepting, serves until a signal, then drains. Returns
// the process exit code: 0 after a clean stop, 1 when it cannot start.
int Serve(const ServeOptions& options);

}  // namespace hoist::registry
