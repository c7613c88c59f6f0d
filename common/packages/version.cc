#include "common/packages/version.h"

#include <cctype>
#include <cstdint>
#include <cstring>

namespace hoist::packages {
namespace {

// ---- dpkg ----------------------------------------------------------------

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// The weight of a character in a non-digit run: "~" before the end of the
// string, the end before letters, letters before everything else.
int Order(std::string_view s, size_t i) {
  if (i >= s.size()) return 0;
  const char c = s[i];
  if (IsDigit(c)) return 0;
  if (IsAlpha(c)) return c;
  if (c == '~') return -1;
  return static_cast<unsigned char>(c) + 256;
}

int VerRevCmp(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    int first_diff = 0;
    while ((i < a.size() && !IsDigit(a[i])) || (j < b.size() && !IsDigit(b[j]))) {
      const int ac = Order(a, i), bc = Order(b, j);
      if (ac != bc) return ac - bc;
      ++i;
      ++j;
    }
    while (i < a.size() && a[i] == '0') ++i;
    while (j < b.size() && b[j] == '0') ++j;
    while (i < a.size() && j < b.size() && IsDigit(a[i]) && IsDigit(b[j])) {
      if (first_diff == 0) first_diff = a[i] - b[j];
      ++i;
      ++j;
    }
    if (i < a.size() && IsDigit(a[i])) return 1;
    if (j < b.size() && IsDigit(b[j])) return -1;
    if (first_diff != 0) return first_diff;
  }
  return 0;
}

struct DpkgVersion {
  uint64_t epoch = 0;
  std::string_view upstream, revision;
};

// deb-version(5): [epoch:]upstream[-revision]; the revision after the last
// hyphen, blanks around the whole ignored.
DpkgVersion ParseDpkg(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  DpkgVersion v;
  if (size_t colon = s.find(':'); colon != std::string_view::npos) {
    for (char c : s.substr(0, colon)) {
      if (!IsDigit(c)) {
        v.epoch = 0;
        break;
      }
      v.epoch = v.epoch * 10 + static_cast<uint64_t>(c - '0');
    }
    s.remove_prefix(colon + 1);
  }
  if (size_t dash = s.rfind('-'); dash != std::string_view::npos) {
    v.revision = s.substr(dash + 1);
    s = s.substr(0, dash);
  }
  v.upstream = s;
  return v;
}

// ---- apk -----------------------------------------------------------------

// The token kinds in apk's order; the order is part of the comparison.
enum Token {
  kInvalid = -1,
  kDigitOrZero,
  kDigit,
  kLetter,
  kSuffix,
  kSuffixNo,
  kRevisionNo,
  kEnd,
};

struct Cursor {
  std::string_view s;
  size_t i = 0;
  size_t left() const { return s.size() - i; }
  char at(size_t k = 0) const { return s[i + k]; }
};

// What the next token is, from the separator at the cursor (consumed).
void NextToken(int* type, Cursor* c) {
  int n = kInvalid;
  if (c->left() == 0 || c->at() == '\0') {
    n = kEnd;
  } else if ((*type == kDigit || *type == kDigitOrZero) &&
             std::islower(static_cast<unsigned char>(c->at()))) {
    n = kLetter;
  } else if (*type == kLetter && IsDigit(c->at())) {
    n = kDigit;
  } else if (*type == kSuffix && IsDigit(c->at())) {
    n = kSuffixNo;
  } else {
    switch (c->at()) {
      case '.':
        n = kDigitOrZero;
        break;
      case '_':
        n = kSuffix;
        break;
      case '-':
        if (c->left() > 1 && c->at(1) == 'r') {
          n = kRevisionNo;
          ++c->i;
        }
        break;
      default:
        break;
    }
    ++c->i;
  }
  // Kinds only go forward, but for a new dotted component, suffix or digit
  // after a letter.
  if (n < *type && !((n == kDigitOrZero && *type == kDigit) ||
                     (n == kSuffix && *type == kSuffixNo) || (n == kDigit && *type == kLetter))) {
    n = kInvalid;
  }
  *type = n;
}

// The value of the token at the cursor (consumed), and the kind of the
// next in *type.
int64_t GetToken(int* type, Cursor* c) {
  static constexpr const char* kPre[] = {"alpha", "beta", "pre", "rc"};
  static constexpr const char* kPost[] = {"cvs", "svn", "git", "hg", "p"};
  int64_t v = 0;
  size_t n = 0;
  int next = kInvalid;
  if (c->left() == 0) {
    *type = kEnd;
    return 0;
  }
  switch (*type) {
    case kDigitOrZero:
      if (c->at() == '0') {
        // Leading zeros: all but the last are a token of their own whose
        // value is minus their count (1.0 == 1.0, 1.00 < 1.0, 1.05 < 1.5).
        while (n + 1 < c->left() && c->at(n + 1) == '0') ++n;
        next = kDigit;
        v = -static_cast<int64_t>(n);
        break;
      }
      [[fallthrough]];
    case kDigit:
    case kSuffixNo:
    case kRevisionNo:
      while (n < c->left() && IsDigit(c->at(n))) v = v * 10 + (c->at(n++) - '0');
      if (n >= 18) {  // more than int64 holds surely: invalid
        *type = kInvalid;
        return -1;
      }
      break;
    case kLetter:
      v = c->at(n++);
      break;
    case kSuffix: {
      // Matched by prefix, the pre-release names first (so "pre" is not "p").
      bool found = false;
      for (size_t k = 0; k < std::size(kPre) && !found; ++k) {
        const size_t len = std::strlen(kPre[k]);
        if (len <= c->left() && c->s.substr(c->i, len) == kPre[k]) {
          v = static_cast<int64_t>(k) - static_cast<int64_t>(std::size(kPre));
          n = len;
          found = true;
        }
      }
      for (size_t k = 0; k < std::size(kPost) && !found; ++k) {
        const size_t len = std::strlen(kPost[k]);
        if (len <= c->left() && c->s.substr(c->i, len) == kPost[k]) {
          v = static_cast<int64_t>(k);
          n = len;
          found = true;
        }
      }
      if (!found) {
        *type = kInvalid;
        return -1;
      }
      break;
    }
    default:
      *type = kInvalid;
      return -1;
  }
  c->i += n;
  if (c->left() == 0) {
    *type = kEnd;
  } else if (next != kInvalid) {
    *type = next;
  } else {
    NextToken(type, c);
  }
  return v;
}

}  // namespace

int CompareDpkg(std::string_view a, std::string_view b) {
  const DpkgVersion x = ParseDpkg(a), y = ParseDpkg(b);
  if (x.epoch != y.epoch) return x.epoch < y.epoch ? -1 : 1;
  if (int r = VerRevCmp(x.upstream, y.upstream); r != 0) return r;
  return VerRevCmp(x.revision, y.revision);
}

int CompareApk(std::string_view a, std::string_view b) {
  int at = kDigit, bt = kDigit;
  int64_t av = 0, bv = 0;
  Cursor x{a}, y{b};
  while (at == bt && at != kEnd && at != kInvalid && av == bv) {
    av = GetToken(&at, &x);
    bv = GetToken(&bt, &y);
  }
  if (av != bv) return av < bv ? -1 : 1;
  if (at == bt) return 0;
  // Equal so far: the longer one is greater, unless what it goes on with
  // is a pre-release suffix.
  int tt = at;
  if (at == kSuffix && GetToken(&tt, &x) < 0) return -1;
  tt = bt;
  if (bt == kSuffix && GetToken(&tt, &y) < 0) return 1;
  if (at > bt) return -1;
  if (bt > at) return 1;
  return 0;
}

int CompareVersions(VersionScheme s, std::string_view a, std::string_view b) {
  return s == VersionScheme::kDpkg ? CompareDpkg(a, b) : CompareApk(a, b);
}

}  // namespace hoist::packages
