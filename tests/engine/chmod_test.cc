#include "builder/engine/chmod.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

namespace hoist::engine {
namespace {

uint32_t Applied(const char* spec, uint32_t mode, bool is_dir = false) {
  Result<ModeChange> m = ModeChange::Parse(spec);
  REQUIRE(m.ok());
  return m->Apply(mode, is_dir);
}

TEST_CASE("ModeChange: --chmod octal modes set the bits whatever the source's", "[chmod]") {
  CHECK(Applied("0755", 0600) == 0755);
  CHECK(Applied("755", 0777, true) == 0755);
  CHECK(Applied("4755", 0644) == 04755);
  CHECK(Applied("0", 0644) == 0);
}

TEST_CASE("ModeChange: --chmod symbolic modes change the source's bits as chmod(1) does",
          "[chmod]") {
  CHECK(Applied("u+x", 0644) == 0744);
  CHECK(Applied("go-w", 0666) == 0644);
  CHECK(Applied("+x", 0644) == 0755);  // no class: all of them (no umask)
  CHECK(Applied("a=rX", 0644) == 0444);
  CHECK(Applied("a=rX", 0744) == 0555);        // X: the file is executable
  CHECK(Applied("a=rX", 0700, true) == 0555);  // X: directories
  CHECK(Applied("u=rwx,g=rx,o=", 0) == 0750);
  CHECK(Applied("u-x+w", 0500) == 0600);  // several operations in one clause
  CHECK(Applied("g=u", 0640) == 0660);    // copy another class's bits
  CHECK(Applied("o=g", 0754) == 0755);
  CHECK(Applied("u+s,g+s", 0755) == 06755);
  CHECK(Applied("+t", 0777, true) == 01777);
  CHECK(Applied("u=rw", 04755) == 0655);  // '=' clears set-user-ID on a file
}

TEST_CASE("ModeChange: --chmod rejects what is neither octal nor symbolic", "[chmod]") {
  for (const char* bad :
       {"", "8", "12345", "07a", "u", "u+y", "u+x,", ",u+x", "x+u", "ug", "a=r w"}) {
    Result<ModeChange> m = ModeChange::Parse(bad);
    INFO(bad);
    REQUIRE_FALSE(m.ok());
    CHECK(m.status().code() == Code::kInvalidArgument);
    CHECK(m.status().message().find("invalid chmod parameter") == 0);
  }
}

// The same specs through coreutils' chmod (with umask 0, so that a clause
// without a class means all of them): the two must agree.
TEST_CASE("ModeChange: --chmod agrees with coreutils chmod", "[chmod]") {
  std::string dir = (std::filesystem::temp_directory_path() / "hoist-chmod-XXXXXX").string();
  REQUIRE(::mkdtemp(dir.data()) != nullptr);
  mode_t old_umask = ::umask(0);
  const char* specs[] = {"u+x", "go-w",    "+x",     "a=rX",  "u=rwx,g=rx,o=", "u-x+w", "g=u",
                         "o=g", "u+s,g+s", "+t",     "u=rw",  "a-x",           "ug+X",  "o+t",
                         "=r",  "g-s",     "u=,go=", "a+rwX", "o-rwx,u+s",     "g+w-r", "u=g"};
  const uint32_t modes[] = {0, 0644, 0755, 0700, 04755, 02750, 01777, 0640};
  int compared = 0;
  for (bool is_dir : {false, true}) {
    for (const char* spec : specs) {
      for (uint32_t mode : modes) {
        std::string path = dir + "/p";
        std::filesystem::remove_all(path);
        if (is_dir) {
          REQUIRE(::mkdir(path.c_str(), 0700) == 0);
        } else {
          FILE* f = std::fopen(path.c_str(), "w");
          REQUIRE(f != nullptr);
          std::fclose(f);
        }
        REQUIRE(::chmod(path.c_str(), mode) == 0);
        std::string cmd = std::string("chmod '") + spec + "' '" + path + "'";
        REQUIRE(std::system(cmd.c_str()) == 0);
        struct stat st;
        REQUIRE(::stat(path.c_str(), &st) == 0);
        INFO(spec << " on " << (is_dir ? "directory" : "file") << " 0" << std::oct << mode);
        CHECK(Applied(spec, mode, is_dir) == (st.st_mode & 07777));
        ++compared;
      }
    }
  }
  ::umask(old_umask);
  std::filesystem::remove_all(dir);
  CHECK(compared == 2 * 21 * 8);
}

}  // namespace
}  // namespace hoist::engine
