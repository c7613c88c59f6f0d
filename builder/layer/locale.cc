#include "builder/layer/locale.h"

namespace hoist::layer {
namespace {

locale_t Utf8Locale() {
  // Created once and never freed: locale objects are immutable and shared.
  static locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
    if (!l) l = newlocale(LC_CTYPE_MASK, "C.utf8", static_cast<locale_t>(0));
    return l;
  }();
  return loc;
}

}  // namespace

ScopedUtf8Locale::ScopedUtf8Locale() {
  if (locale_t l = Utf8Locale()) previous_ = uselocale(l);
}

ScopedUtf8Locale::~ScopedUtf8Locale() {
  if (previous_) uselocale(previous_);
}

}  // namespace hoist::layer
