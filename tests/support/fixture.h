// RegistryFixture: a started registry process and a client for it, for
// Catch2's TEST_CASE_METHOD. Construction REQUIREs that the server started
// (failing the test with its log otherwise); destruction stops it.
#pragma once

#include <httplib.h>

#include "support/registry_process.h"

namespace hoist::itest {

// REQUIREs reg.Start() (reporting reg.error()) and returns a client for it.
httplib::Client StartedClient(RegistryProcess& reg);

struct RegistryFixture {
  explicit RegistryFixture(RegistryOptions options = {})
      : reg(std::move(options)), cli(StartedClient(reg)) {}

  RegistryProcess reg;
  httplib::Client cli;
};

}  // namespace hoist::itest
