#include "common/names.h"

#include <catch2/catch.hpp>
#include <string>

namespace hoist {
namespace {

TEST_CASE("Repository names that follow the grammar are valid", "[names]") {
  for (const char* n : {"a", "a/b", "foo.bar", "a__b", "a_b", "a---b", "a-b", "library/ubuntu",
                        "0", "a1/b2/c3", "my-org/my.app/x__y"}) {
    INFO(n);
    CHECK(IsValidRepositoryName(n));
    CHECK(ValidateRepositoryName(n).ok());
  }
}

TEST_CASE("Repository names that break the grammar are invalid", "[names]") {
  for (const char* n : {"", "A", "library/Ubuntu", "a//b", "/a", "a/", "a..b", "_a", "a_", "a___b",
                        "-a", "a-", ".a", "a.", "a b", "a:b", "a/./b", "a/../b"}) {
    INFO(n);
    CHECK_FALSE(IsValidRepositoryName(n));
    CHECK(ValidateRepositoryName(n).code() == Code::kNameInvalid);
  }
}

TEST_CASE("Repository names are limited to 255 characters", "[names]") {
  std::string max(255, 'a');
  CHECK(IsValidRepositoryName(max));
  std::string too_long(256, 'a');
  CHECK_FALSE(IsValidRepositoryName(too_long));
  Status st = ValidateRepositoryName(too_long);
  CHECK(st.code() == Code::kNameInvalid);
  // A long name made of valid components is still too long.
  std::string parts;
  while (parts.size() < 256) parts += "ab/";
  parts += "c";
  CHECK_FALSE(IsValidRepositoryName(parts));
}

TEST_CASE("Tags of 1 to 128 word characters are valid", "[names]") {
  for (const char* t : {"latest", "v1.2.3", "1.0-rc_1", "_private", "A", "0", "UPPER-lower.9"}) {
    INFO(t);
    CHECK(IsValidTag(t));
  }
  CHECK(IsValidTag(std::string(128, 'a')));
  CHECK(IsValidTag("a" + std::string(127, '-')));
}

TEST_CASE("Tags that are too long, empty or start with '.' or '-' are invalid", "[names]") {
  CHECK_FALSE(IsValidTag(std::string(129, 'a')));
  CHECK_FALSE(IsValidTag(""));
  CHECK_FALSE(IsValidTag(".hidden"));
  CHECK_FALSE(IsValidTag("-x"));
  CHECK_FALSE(IsValidTag("a/b"));
  CHECK_FALSE(IsValidTag("a:b"));
  CHECK_FALSE(IsValidTag("a b"));
  CHECK_FALSE(IsValidTag("sha256:abc"));
}

}  // namespace
}  // namespace hoist
