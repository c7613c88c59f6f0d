#include "builder/dockerfile/platform.h"

#include <vector>

#include "builder/dockerfile/text.h"

namespace hoist::dockerfile {
namespace {

bool IsKnownOs(std::string_view os) {
  static const char* const kOs[] = {
      "aix",   "android", "darwin", "dragonfly", "freebsd", "hurd",    "illumos", "ios", "js",
      "linux", "nacl",    "netbsd", "openbsd",   "plan9",   "solaris", "windows", "zos"};
  for (const char* k : kOs) {
    if (os == k) return true;
  }
  return false;
}

bool IsKnownArch(std::string_view arch) {
  static const char* const kArch[] = {
      "386",     "amd64",   "amd64p32", "arm",    "armbe",  "arm64",    "arm64be",   "ppc64",
      "ppc64le", "loong64", "mips",     "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le",
      "ppc",     "riscv",   "riscv64",  "s390",   "s390x",  "sparc",    "sparc64",   "wasm"};
  for (const char* k : kArch) {
    if (arch == k) return true;
  }
  return false;
}

void NormalizeArch(std::string* arch, std::string* variant) {
  *arch = text::ToLower(*arch);
  *variant = text::ToLower(*variant);
  if (*arch == "i386") {
    *arch = "386";
    variant->clear();
  } else if (*arch == "x86_64" || *arch == "x86-64" || *arch == "amd64") {
    *arch = "amd64";
    if (*variant == "v1") variant->clear();
  } else if (*arch == "aarch64" || *arch == "arm64") {
    *arch = "arm64";
    if (*variant == "8" || *variant == "v8" || *variant == "v8.0") variant->clear();
    if (*variant == "9" || *variant == "9.0" || *variant == "v9.0") *variant = "v9";
  } else if (*arch == "armhf") {
    *arch = "arm";
    *variant = "v7";
  } else if (*arch == "armel") {
    *arch = "arm";
    *variant = "v6";
  } else if (*arch == "arm") {
    if (variant->empty() || *variant == "7") {
      *variant = "v7";
    } else if (*variant == "5" || *variant == "6" || *variant == "8") {
      *variant = "v" + *variant;
    }
  }
}

bool ValidComponent(std::string_view s, bool os) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || (!os && c == '.');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

std::string Platform::Format() const {
  if (os.empty()) return "unknown";
  std::string s = os + "/" + arch;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

Platform HostPlatform() {
  Platform p{"linux", "", ""};
#if defined(__x86_64__)
  p.arch = "amd64";
#elif defined(__aarch64__)
  p.arch = "arm64";
#elif defined(__arm__)
  p.arch = "arm";
  p.variant = "v7";
#elif defined(__i386__)
  p.arch = "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  p.arch = "ppc64le";
#elif defined(__s390x__)
  p.arch = "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  p.arch = "riscv64";
#else
  p.arch = "unknown";
#endif
  return p;
}

Result<Platform> ParsePlatform(std::string_view spec) {
  auto invalid = [&](const std::string& why) {
    return Status(Code::kInvalidArgument, text::Quote(spec) + ": " + why);
  };
  if (spec.find('*') != std::string_view::npos) return invalid("wildcards not yet supported");
  std::vector<std::string> parts;
  size_t start = 0;
  while (parts.size() < 3) {
    size_t slash = spec.find('/', start);
    if (slash == std::string_view::npos) break;
    parts.emplace_back(spec.substr(start, slash - start));
    start = slash + 1;
  }
  parts.emplace_back(spec.substr(start));
  if (!ValidComponent(parts[0], true)) {
    return invalid("invalid OS component " + text::Quote(parts[0]));
  }
  for (size_t i = 1; i < parts.size(); ++i) {
    if (!ValidComponent(parts[i], false))
      return invalid("invalid component " + text::Quote(parts[i]));
  }
  Platform host = HostPlatform();
  Platform p;
  p.os = text::ToLower(parts[0]);
  if (p.os == "macos") p.os = "darwin";
  switch (parts.size()) {
    case 1:
      if (IsKnownOs(p.os)) {
        p.arch = host.arch;
        p.variant = host.variant;
        break;
      }
      p.arch = parts[0];
      NormalizeArch(&p.arch, &p.variant);
      if (!IsKnownArch(p.arch)) return invalid("unknown operating system or architecture");
      p.os = host.os;
      break;
    case 2:
      p.arch = parts[1];
      NormalizeArch(&p.arch, &p.variant);
      break;
    case 3:
      p.arch = parts[1];
      p.variant = parts[2];
      NormalizeArch(&p.arch, &p.variant);
      break;
    default:
      return invalid("cannot parse platform specifier");
  }
  NormalizeArch(&p.arch, &p.variant);  // platforms.Normalize
  return p;
}

Result<std::vector<Platform>> ParsePlatforms(std::string_view list) {
  std::vector<Platform> out;
  size_t start = 0;
  while (true) {
    size_t comma = list.find(',', start);
    Result<Platform> p = ParsePlatform(list.substr(start, comma - start));
    if (!p.ok()) return p.status();
    for (const Platform& seen : out) {
      if (seen == *p) {
        return Status(Code::kInvalidArgument, p->Format() + " is listed twice");
      }
    }
    out.push_back(*p);
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

}  // namespace hoist::dockerfile
