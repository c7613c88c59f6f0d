// common/packages/version.h: dpkg's order checked against dpkg itself
// (`dpkg --compare-versions`) on generated pairs, apk's on cases that walk
// each rule of apk-tools' comparison.
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>
#include <string>

#include "common/packages/version.h"

namespace hoist::packages {
namespace {

// What dpkg says: "lt", "eq" or "gt" (dpkg exits 1 for false, 2 for a
// version it refuses: that is a bug of the generator).
std::string DpkgSays(const std::string& a, const std::string& b) {
  for (const char* op : {"lt", "eq", "gt"}) {
    const std::string cmd =
        "dpkg --compare-versions '" + a + "' " + op + " '" + b + "' 2>/dev/null";
    const int rc = std::system(cmd.c_str());
    REQUIRE(WIFEXITED(rc));
    REQUIRE(WEXITSTATUS(rc) <= 1);
    if (WEXITSTATUS(rc) == 0) return op;
  }
  FAIL("dpkg says neither lt, eq nor gt for " << a << " and " << b);
  return "";
}

std::string Sign(int r) {
  return r < 0 ? "lt" : r == 0 ? "eq" : "gt";
}

// Versions from the characters that matter to dpkg's order, valid for
// dpkg (numeric epoch, upstream starting with a digit).
struct DebVersion {
  std::string epoch, upstream, revision;
  std::string str() const {
    return (epoch.empty() ? "" : epoch + ":") + upstream + (revision.empty() ? "" : "-" + revision);
  }
};

std::string Pieces(std::mt19937& rng, int max) {
  static const std::string kPieces[] = {"0",  "1",    "2",     "9",    "10", "01", "a",
                                        "b",  "z",    "A",     "~",    "~~", "+",  ".",
                                        "rc", "beta", "+dfsg", "~rc1", "3"};
  std::uniform_int_distribution<int> len(1, max), piece(0, std::size(kPieces) - 1);
  std::string s;
  for (int i = len(rng); i > 0; --i) s += kPieces[piece(rng)];
  return s;
}

DebVersion RandomDebVersion(std::mt19937& rng) {
  std::uniform_int_distribution<int> coin(0, 3), digit(0, 9);
  DebVersion v;
  if (coin(rng) == 0) v.epoch = std::to_string(coin(rng));
  v.upstream = std::to_string(digit(rng)) + Pieces(rng, 4);
  if (coin(rng) != 0) v.revision = Pieces(rng, 3);
  return v;
}

TEST_CASE("dpkg order: what dpkg --compare-versions says, on generated pairs", "[packages]") {
  std::mt19937 rng(20261205);
  for (int i = 0; i < 300; ++i) {
    DebVersion a = RandomDebVersion(rng), b = RandomDebVersion(rng);
    // Near pairs as well as far ones: the same epoch and upstream, or the
    // same epoch and a shared start, two times in three.
    if (i % 3 == 0) {
      b.epoch = a.epoch;
      b.upstream = a.upstream;
    } else if (i % 3 == 1) {
      b.epoch = a.epoch;
      b.upstream = a.upstream.substr(0, 1 + a.upstream.size() / 2) + Pieces(rng, 2);
    }
    INFO(a.str() << " vs " << b.str());
    CHECK(Sign(CompareDpkg(a.str(), b.str())) == DpkgSays(a.str(), b.str()));
  }
}

TEST_CASE("dpkg order: the documented cases", "[packages]") {
  CHECK(CompareDpkg("1.0~rc1", "1.0") < 0);
  CHECK(CompareDpkg("1.0", "1.0a") < 0);
  CHECK(CompareDpkg("1.0a", "1.0+") < 0);
  CHECK(CompareDpkg("1.0", "1.0-0") == 0);
  CHECK(CompareDpkg("1:0.1", "2.0") > 0);
  CHECK(CompareDpkg("2.36-9+deb12u4", "2.36-9+deb12u10") < 0);
  CHECK(CompareDpkg("7.88.1-10+deb12u5", "7.88.1-10+deb12u12") < 0);
  CHECK(CompareDpkg("010", "10") == 0);
}

TEST_CASE("apk order: each rule of apk-tools' comparison", "[packages]") {
  struct Case {
    const char *a, *b;
    int want;
  };
  const Case cases[] = {
      {"1.0", "1.0", 0},
      {"1.0", "1.0.1", -1},     // a longer version is greater
      {"1.2", "1.10", -1},      // numbers, not strings
      {"1.0_rc1", "1.0", -1},   // pre-release suffixes sort first
      {"6.0_pre1", "6.0", -1},  // also after a zero component
      {"1.0_alpha", "1.0_beta", -1},
      {"1.0_beta2", "1.0_pre1", -1},
      {"1.0_pre1", "1.0_rc1", -1},
      {"1.0_rc1", "1.0_rc2", -1},
      {"1.0", "1.0_p1", -1},  // post-release suffixes after none
      {"1.0_cvs", "1.0_p", -1},
      {"1.0_git20230101", "1.0_git20230102", -1},
      {"1.0", "1.0-r1", -1},  // a revision after none
      {"1.0-r1", "1.0-r2", -1},
      {"1.0-r9", "1.0-r10", -1},
      {"1.0-r1", "1.0.1", -1},
      {"1.0a", "1.0b", -1},  // one letter after the digits
      {"1.0a", "1.0.1", -1},
      {"1.0_p1", "1.0a", -1},  // a letter comes before suffixes in the grammar
      {"1.01", "1.1", -1},     // leading zeros: smaller than none
      {"1.001", "1.01", -1},
      {"1.00", "1.0", -1},
      {"1.0_p1", "1.0_p1", 0},
      {"1.2.3-r123456789012345678", "1.2.3-r1", -1},  // 18+ digits: invalid, sorts low
      {"3.0.13-r0", "3.0.12-r1", 1},
      {"1.36.1-r5", "1.36.1-r15", -1},
  };
  for (const Case& c : cases) {
    INFO(c.a << " vs " << c.b);
    CHECK(Sign(CompareApk(c.a, c.b)) == Sign(c.want));
    CHECK(Sign(CompareApk(c.b, c.a)) == Sign(-c.want));
  }
}

}  // namespace
}  // namespace hoist::packages
