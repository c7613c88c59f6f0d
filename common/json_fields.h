// Fields of JSON from outside (registries, feeds, files) read without
// exceptions: nlohmann's value() throws when the field has another type,
// and a wrong type in a document is the document's error, not a crash.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace hoist {

// `o[key]` when `o` is an object and that field a string, else `fallback`.
inline std::string StringField(const nlohmann::json& o, const char* key,
                               const std::string& fallback = {}) {
  if (!o.is_object()) return fallback;
  auto it = o.find(key);
  return it != o.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// `o[key]` when `o` is an object and that field an array, else an empty one.
inline const nlohmann::json& ArrayField(const nlohmann::json& o, const char* key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  if (!o.is_object()) return kEmpty;
  auto it = o.find(key);
  return it != o.end() && it->is_array() ? *it : kEmpty;
}

}  // namespace hoist
