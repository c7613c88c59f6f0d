#include "builder/engine/chmod.h"

namespace hoist::engine {

namespace {

constexpr uint32_t kUser = 0700, kGroup = 0070, kOther = 0007;

// The rwx bits of class `c` ('u', 'g', 'o') spread over every class.
uint32_t ClassBits(uint32_t mode, char c) {
  uint32_t b = c == 'u' ? (mode >> 6) & 7 : c == 'g' ? (mode >> 3) & 7 : mode & 7;
  return b * 0111;
}

}  // namespace

Result<ModeChange> ModeChange::Parse(std::string_view spec) {
  ModeChange m;
  m.spec_ = std::string(spec);
  auto invalid = [&spec] {
    return Status(Code::kInvalidArgument,
                  "invalid chmod parameter " + std::string(spec) +
                      ": want an octal mode (0755) or a symbolic one (u+x, go-w, a=rX)");
  };
  if (spec.empty()) return invalid();
  if (spec.front() >= '0' && spec.front() <= '9') {
    if (spec.size() > 4) return invalid();
    for (char c : spec) {
      if (c < '0' || c > '7') return invalid();
      m.mode_ = m.mode_ * 8 + static_cast<uint32_t>(c - '0');
    }
    m.octal_ = true;
    return m;
  }
  size_t i = 0;
  while (i <= spec.size()) {
    uint32_t who = 0;
    for (; i < spec.size(); ++i) {
      char c = spec[i];
      if (c == 'u')
        who |= kUser;
      else if (c == 'g')
        who |= kGroup;
      else if (c == 'o')
        who |= kOther;
      else if (c == 'a')
        who |= kUser | kGroup | kOther;
      else
        break;
    }
    if (who == 0) who = kUser | kGroup | kOther;
    bool any = false;
    while (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == '=')) {
      Action a;
      a.who = who;
      a.op = spec[i++];
      if (i < spec.size() && (spec[i] == 'u' || spec[i] == 'g' || spec[i] == 'o')) {
        a.copy = spec[i++];
      } else {
        for (; i < spec.size(); ++i) {
          char c = spec[i];
          if (c == 'r')
            a.perm |= 0444 & who;
          else if (c == 'w')
            a.perm |= 0222 & who;
          else if (c == 'x')
            a.perm |= 0111 & who;
          else if (c == 'X')
            a.x_if = true;
          else if (c == 's')
            a.perm |= ((who & kUser) ? 04000 : 0) | ((who & kGroup) ? 02000 : 0);
          else if (c == 't')
            a.perm |= (who & kOther) ? 01000 : 0;
          else
            break;
        }
      }
      m.actions_.push_back(a);
      any = true;
    }
    if (!any) return invalid();
    if (i == spec.size()) break;
    if (spec[i] != ',') return invalid();
    ++i;
  }
  return m;
}

uint32_t ModeChange::Apply(uint32_t mode, bool is_dir) const {
  if (octal_) return mode_ & 07777;
  mode &= 07777;
  for (const Action& a : actions_) {
    uint32_t bits = a.perm;
    if (a.copy) bits |= ClassBits(mode, a.copy) & a.who;
    if (a.x_if && (is_dir || (mode & 0111))) bits |= 0111 & a.who;
    if (a.op == '+') {
      mode |= bits;
    } else if (a.op == '-') {
      mode &= ~bits;
    } else {
      // '=': the named classes get exactly these bits; as chmod(1) does, a
      // directory keeps set-id bits that the clause does not mention.
      uint32_t clear = a.who | ((a.who & kUser) ? 04000 : 0) | ((a.who & kGroup) ? 02000 : 0) |
                       ((a.who & kOther) ? 01000 : 0);
      if (is_dir) clear &= ~(06000 & ~bits);
      mode = (mode & ~clear) | bits;
    }
  }
  return mode;
}

}  // namespace hoist::engine
