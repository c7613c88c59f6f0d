// Version ordering of the package managers whose databases hoist reads, as
// the package managers themselves order versions (a vulnerability feed's
// "fixed in" is only as right as this):
//
// - dpkg (Debian, Ubuntu): deb-version(5); dpkg's lib/dpkg/version.c
//   (epoch, then upstream and revision by "verrevcmp": non-digit runs by
//   the weight ~ < end < letters < other characters, digit runs as
//   numbers).
// - apk (Alpine): apk-tools 2.14's src/version.c, what Alpine 3.18 to
//   3.22 ship (the Gentoo-style grammar digit{.digit}{letter}{_suffix{#}}
//   {-r#}: tokens compared by value while their kinds agree; _alpha <
//   _beta < _pre < _rc < none < _cvs < _svn < _git < _hg < _p; extra
//   leading zeros after a dot make a component smaller; numbers of 18
//   digits or more are invalid).
#pragma once

#include <string_view>

#include "common/status.h"

namespace hoist::packages {

enum class VersionScheme { kDpkg, kApk };

// <0, 0 or >0 as `a` orders before, equal to or after `b`. Never fails:
// malformed versions are ordered as the package manager orders them
// (dpkg: an epoch that is not a number counts as 0).
int CompareDpkg(std::string_view a, std::string_view b);
int CompareApk(std::string_view a, std::string_view b);
int CompareVersions(VersionScheme s, std::string_view a, std::string_view b);

}  // namespace hoist::packages
