// Pins the calling thread's LC_CTYPE to C.UTF-8 for a scope.
//
// libarchive converts names between the locale's multibyte charset and the
// UTF-8 of PAX records. Under the "C" locale a name like "café" cannot be
// converted and is written with hdrcharset=BINARY; under a UTF-8 locale it is
// a plain "path" record. Pinning the locale per thread (uselocale, not
// setlocale) makes the bytes the same on every machine without touching the
// rest of the process.
#pragma once

#include <locale.h>

namespace hoist::layer {

class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale();
  ~ScopedUtf8Locale();
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t previous_ = nullptr;
};

}  // namespace hoist::layer
