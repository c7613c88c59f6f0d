#include "support/fixture.h"

#include <catch2/catch.hpp>

namespace hoist::itest {

httplib::Client StartedClient(RegistryProcess& reg) {
  bool started = reg.Start();
  INFO(reg.error());
  REQUIRE(started);
  return reg.Client();
}

}  // namespace hoist::itest
