#include "builder/up/config.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "builder/dockerfile/instructions.h"
#include "common/reference.h"

namespace hoist::up {
namespace {

// Errors carry "PATH:LINE:COL: FIELD: what".
class Parser {
 public:
  explicit Parser(std::string path) : path_(std::move(path)) {}

  Status Error(const YAML::Mark& m, const std::string& field, const std::string& what) const {
    std::string where = path_;
    if (!m.is_null())
      where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    return Status(Code::kInvalidArgument,
                  where + ": " + (field.empty() ? "" : field + ": ") + what);
  }

  // A mapping whose keys are all in `allowed`.
  Status Map(const YAML::Node& n, const std::string& field,
             const std::vector<std::string>& allowed) const {
    if (!n.IsMap()) return Error(n.Mark(), field, "expected a mapping");
    std::set<std::string> seen;
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar();
      bool known = false;
      for (const std::string& a : allowed) known = known || a == key;
      std::string sub = field.empty() ? key : field + "." + key;
      if (!known) {
        std::string list;
        for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
        return Error(kv.first.Mark(), field.empty() ? "" : field,
                     "unknown key \"" + key + "\" (allowed: " + list + ")");
      }
      if (!seen.insert(key).second) return Error(kv.first.Mark(), sub, "duplicate key");
    }
    return Status::Ok();
  }

  Status String(const YAML::Node& n, const std::string& field, std::string* out) const {
    if (!n.IsScalar()) return Error(n.Mark(), field, "expected a string");
    *out = n.Scalar();
    return Status::Ok();
  }

  Status NonEmpty(const YAML::Node& n, const std::string& field, std::string* out) const {
    HOIST_RETURN_IF_ERROR(String(n, field, out));
    if (out->empty()) return Error(n.Mark(), field, "must not be empty");
    return Status::Ok();
  }

  Status Bool(const YAML::Node& n, const std::string& field, bool* out) const {
    std::string v;
    HOIST_RETURN_IF_ERROR(String(n, field, &v));
    if (v != "true" && v != "false") {
      return Error(n.Mark(), field, "want true or false, got \"" + v + "\"");
    }
    *out = v == "true";
    return Status::Ok();
  }

  Status Int(const YAML::Node& n, const std::string& field, int lo, int hi, int* out) const {
    std::string s;
    HOIST_RETURN_IF_ERROR(String(n, field, &s));
    std::string range = "want an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
    if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) {
      return Error(n.Mark(), field, range + ", got \"" + s + "\"");
    }
    int v = std::stoi(s);
    if (v < lo || v > hi) return Error(n.Mark(), field, range + ", got " + s);
    *out = v;
    return Status::Ok();
  }

  Status Duration(const YAML::Node& n, const std::string& field, bool allow_zero,
                  Millis* out) const {
    std::string s;
    HOIST_RETURN_IF_ERROR(String(n, field, &s));
    Millis d{0};
    if (!ParseDuration(s, &d) || (!allow_zero && d.count() == 0)) {
      return Error(n.Mark(), field,
                   std::string("want a duration such as 500ms, 2s, 1m") +
                       (allow_zero ? " (0: none)" : "") + ", got \"" + s + "\"");
    }
    *out = d;
    return Status::Ok();
  }

  Status StringMap(const YAML::Node& n, const std::string& field,
                   std::map<std::string, std::string>* out) const {
    if (!n.IsMap()) return Error(n.Mark(), field, "expected a mapping of KEY: VALUE");
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar(), value;
      if (key.empty()) return Error(kv.first.Mark(), field, "empty key");
      HOIST_RETURN_IF_ERROR(String(kv.second, field + "." + key, &value));
      (*out)[key] = value;
    }
    return Status::Ok();
  }

  Status Registry(const YAML::Node& n, RegistrySpec* r) const {
    HOIST_RETURN_IF_ERROR(Map(n, "registry", {"name", "port", "storage", "health"}));
    if (n["name"]) HOIST_RETURN_IF_ERROR(NonEmpty(n["name"], "registry.name", &r->name));
    if (n["port"]) HOIST_RETURN_IF_ERROR(Int(n["port"], "registry.port", 0, 65535, &r->port));
    if (YAML::Node st = n["storage"]; st && st.IsMap()) {
      HOIST_RETURN_IF_ERROR(Map(st, "registry.storage", {"s3"}));
      if (!st["s3"]) return Error(st.Mark(), "registry.storage", "want a directory or { s3: ... }");
      YAML::Node s = st["s3"];
      HOIST_RETURN_IF_ERROR(
          Map(s, "registry.storage.s3",
              {"endpoint", "bucket", "region", "root_directory", "virtual_host"}));
      S3StorageSpec spec;
      for (auto [key, field] : {std::pair{"endpoint", &spec.endpoint}, {"bucket", &spec.bucket}}) {
        if (!s[key]) return Error(s.Mark(), std::string("registry.storage.s3.") + key, "missing");
        HOIST_RETURN_IF_ERROR(NonEmpty(s[key], std::string("registry.storage.s3.") + key, field));
      }
      if (spec.endpoint.rfind("http://", 0) != 0 && spec.endpoint.rfind("https://", 0) != 0) {
        return Error(s["endpoint"].Mark(), "registry.storage.s3.endpoint",
                     "want an http:// or https:// URL, got \"" + spec.endpoint + "\"");
      }
      if (s["region"]) {
        HOIST_RETURN_IF_ERROR(NonEmpty(s["region"], "registry.storage.s3.region", &spec.region));
      }
      if (s["root_directory"]) {
        HOIST_RETURN_IF_ERROR(String(s["root_directory"], "registry.storage.s3.root_directory",
                                     &spec.root_directory));
      }
      if (s["virtual_host"]) {
        HOIST_RETURN_IF_ERROR(
            Bool(s["virtual_host"], "registry.storage.s3.virtual_host", &spec.virtual_host));
      }
      r->s3 = spec;
    } else if (st) {
      HOIST_RETURN_IF_ERROR(NonEmpty(st, "registry.storage", &r->storage));
    }
    if (YAML::Node h = n["health"]) {
      HOIST_RETURN_IF_ERROR(Map(h, "registry.health", {"path", "interval", "timeout"}));
      if (h["path"]) {
        HOIST_RETURN_IF_ERROR(String(h["path"], "registry.health.path", &r->health.path));
        if (r->health.path.empty() || r->health.path[0] != '/') {
          return Error(h["path"].Mark(), "registry.health.path", "must start with /");
        }
      }
      if (h["interval"]) {
        HOIST_RETURN_IF_ERROR(
            Duration(h["interval"], "registry.health.interval", false, &r->health.interval));
      }
      if (h["timeout"]) {
        HOIST_RETURN_IF_ERROR(
            Duration(h["timeout"], "registry.health.timeout", false, &r->health.timeout));
      }
    }
    return Status::Ok();
  }

  Status Build(const YAML::Node& n, BuildSettings* b) const {
    HOIST_RETURN_IF_ERROR(Map(n, "build", {"parallel", "retries", "backoff", "timeout"}));
    if (n["parallel"])
      HOIST_RETURN_IF_ERROR(Int(n["parallel"], "build.parallel", 1, 64, &b->parallel));
    if (n["retries"]) HOIST_RETURN_IF_ERROR(Int(n["retries"], "build.retries", 0, 20, &b->retries));
    if (n["backoff"])
      HOIST_RETURN_IF_ERROR(Duration(n["backoff"], "build.backoff", false, &b->backoff));
    if (n["timeout"])
      HOIST_RETURN_IF_ERROR(Duration(n["timeout"], "build.timeout", true, &b->timeout));
    return Status::Ok();
  }

  Status Image(const YAML::Node& n, const std::string& field, ImageSpec* img) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One parser per strategy block: adding a strategy adds a row here and one
// in the strategy table (strategy.h); the orchestrator is not touched.
struct BlockParser {
  const char* key;
  Status (*parse)(const Parser&, const YAML::Node&, const std::string& field, ImageSpec*);
};

Status ParseDockerfileBlock(const Parser& p, const YAML::Node& n, const std::string& field,
                            ImageSpec* img) {
  HOIST_RETURN_IF_ERROR(p.Map(n, field, {"context", "file", "args", "target", "platform"}));
  DockerfileSpec& d = img->dockerfile;
  if (!n["context"]) return p.Error(n.Mark(), field, "missing \"context\"");
  HOIST_RETURN_IF_ERROR(p.NonEmpty(n["context"], field + ".context", &d.context));
  if (n["file"]) HOIST_RETURN_IF_ERROR(p.NonEmpty(n["file"], field + ".file", &d.file));
  if (n["args"]) HOIST_RETURN_IF_ERROR(p.StringMap(n["args"], field + ".args", &d.args));
  if (n["target"]) HOIST_RETURN_IF_ERROR(p.NonEmpty(n["target"], field + ".target", &d.target));
  if (n["platform"]) {
    HOIST_RETURN_IF_ERROR(p.NonEmpty(n["platform"], field + ".platform", &d.platform));
  }
  return Status::Ok();
}

Status ParseSourceBlock(const Parser& p, const YAML::Node& n, const std::string& field,
                        ImageSpec* img) {
  return p.NonEmpty(n, field, &img->source);
}

Status ParseCommandBlock(const Parser& p, const YAML::Node& n, const std::string& field,
                         ImageSpec* img) {
  HOIST_RETURN_IF_ERROR(p.Map(n, field, {"run", "output"}));
  if (!n["run"]) return p.Error(n.Mark(), field, "missing \"run\"");
  HOIST_RETURN_IF_ERROR(p.NonEmpty(n["run"], field + ".run", &img->command.run));
  if (n["output"]) {
    HOIST_RETURN_IF_ERROR(p.NonEmpty(n["output"], field + ".output", &img->command.output));
  }
  return Status::Ok();
}

const std::vector<BlockParser>& BlockParsers() {
  static const std::vector<BlockParser> kParsers = {
      {"dockerfile", ParseDockerfileBlock},
      {"source", ParseSourceBlock},
      {"command", ParseCommandBlock},
  };
  return kParsers;
}

Status Parser::Image(const YAML::Node& n, const std::string& field, ImageSpec* img) const {
  std::vector<std::string> allowed = {"name", "prefix", "tag", "depends_on",
                                      "sign", "verify", "sbom"};
  for (const BlockParser& b : BlockParsers()) allowed.push_back(b.key);
  HOIST_RETURN_IF_ERROR(Map(n, field, allowed));
  img->line = n.Mark().line + 1;
  if (!n["name"]) return Error(n.Mark(), field, "missing \"name\"");
  HOIST_RETURN_IF_ERROR(NonEmpty(n["name"], field + ".name", &img->name));
  std::string name_field = field + ".name";
  if (img->name.find('/') != std::string::npos) {
    return Error(n["name"].Mark(), name_field,
                 "\"" + img->name + "\" must not contain / (use prefix)");
  }
  if (n["prefix"]) {
    HOIST_RETURN_IF_ERROR(String(n["prefix"], field + ".prefix", &img->prefix));
    while (!img->prefix.empty() && img->prefix.back() == '/') img->prefix.pop_back();
    while (!img->prefix.empty() && img->prefix.front() == '/') img->prefix.erase(0, 1);
  }
  if (n["tag"]) HOIST_RETURN_IF_ERROR(NonEmpty(n["tag"], field + ".tag", &img->tag));
  if (YAML::Node deps = n["depends_on"]) {
    if (!deps.IsSequence()) {
      return Error(deps.Mark(), field + ".depends_on", "expected a list of image names");
    }
    for (size_t i = 0; i < deps.size(); ++i) {
      std::string d;
      HOIST_RETURN_IF_ERROR(
          NonEmpty(deps[i], field + ".depends_on[" + std::to_string(i) + "]", &d));
      img->depends_on.push_back(d);
    }
  }
  if (n["sign"]) HOIST_RETURN_IF_ERROR(NonEmpty(n["sign"], field + ".sign", &img->sign));
  if (n["sbom"]) {
    bool b = false;
    HOIST_RETURN_IF_ERROR(Bool(n["sbom"], field + ".sbom", &b));
    img->sbom = b;
  }
  if (YAML::Node v = n["verify"]) {
    if (v.IsSequence()) {
      for (size_t i = 0; i < v.size(); ++i) {
        std::string k;
        HOIST_RETURN_IF_ERROR(NonEmpty(v[i], field + ".verify[" + std::to_string(i) + "]", &k));
        img->verify.push_back(k);
      }
    } else {
      std::string k;
      HOIST_RETURN_IF_ERROR(NonEmpty(v, field + ".verify", &k));
      img->verify.push_back(k);
    }
    if (!n["source"]) {
      return Error(v.Mark(), field + ".verify",
                   "verify checks imported images: it needs \"source\"");
    }
  }
  std::string keys;
  for (const BlockParser& b : BlockParsers())
    keys += std::string(keys.empty() ? "" : " | ") + b.key;
  const BlockParser* chosen = nullptr;
  for (const BlockParser& b : BlockParsers()) {
    if (!n[b.key]) continue;
    if (chosen != nullptr) {
      return Error(n[b.key].Mark(), field,
                   std::string("\"") + chosen->key + "\" and \"" + b.key +
                       "\" exclude each other: give exactly one of " + keys);
    }
    chosen = &b;
  }
  if (chosen == nullptr) {
    return Error(n.Mark(), field,
                 "missing how to produce \"" + img->name + "\": give one of " + keys);
  }
  img->kind = chosen->key;
  HOIST_RETURN_IF_ERROR(chosen->parse(*this, n[chosen->key], field + "." + chosen->key, img));
  // The reference grammar is the one parser's (common/reference.h).
  Result<Reference> ref = Reference::Parse(img->FinalReference("localhost:5000"));
  if (!ref.ok()) {
    return Error(n.Mark(), field,
                 "\"" + img->FinalReference("<registry>") +
                     "\" is not a valid image reference: " + ref.status().message());
  }
  return Status::Ok();
}

// depends_on names exist, are not the image itself, and form no cycle.
Status CheckDependencies(const Parser& p, const UpFile& f, const std::vector<YAML::Mark>& marks) {
  for (size_t i = 0; i < f.images.size(); ++i) {
    for (const std::string& d : f.images[i].depends_on) {
      std::string field = "images[" + std::to_string(i) + "].depends_on";
      if (f.Find(d) < 0) return p.Error(marks[i], field, "no image is named \"" + d + "\"");
      if (d == f.images[i].name)
        return p.Error(marks[i], field, "an image cannot depend on itself");
    }
  }
  // Depth-first search; state 1 = on the path, 2 = done.
  std::vector<int> state(f.images.size(), 0);
  std::vector<std::string> path;
  std::function<Status(int)> visit = [&](int i) -> Status {
    state[i] = 1;
    path.push_back(f.images[i].name);
    for (const std::string& d : f.images[i].depends_on) {
      int j = f.Find(d);
      if (state[j] == 1) {
        std::string cycle;
        for (const std::string& s : path) cycle += s + " -> ";
        return p.Error(marks[i], "images[" + std::to_string(i) + "].depends_on",
                       "dependency cycle: " + cycle + d);
      }
      if (state[j] == 0) HOIST_RETURN_IF_ERROR(visit(j));
    }
    path.pop_back();
    state[i] = 2;
    return Status::Ok();
  };
  for (size_t i = 0; i < f.images.size(); ++i) {
    if (state[i] == 0) HOIST_RETURN_IF_ERROR(visit(static_cast<int>(i)));
  }
  return Status::Ok();
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::string FileDir(const std::string& path) {
  std::string dir = DirOf(path);
  char* real = ::realpath(dir.c_str(), nullptr);
  if (real == nullptr) return dir;
  std::string out = real;
  std::free(real);
  return out;
}

std::string ImageSpec::Repository() const {
  return prefix.empty() ? name : prefix + "/" + name;
}

std::string ImageSpec::FinalReference(const std::string& registry) const {
  return registry + "/" + Repository() + ":" + tag;
}

int UpFile::Find(std::string_view name) const {
  for (size_t i = 0; i < images.size(); ++i) {
    if (images[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const std::vector<std::string>& StrategyKeys() {
  static const std::vector<std::string> kKeys = [] {
    std::vector<std::string> keys;
    for (const BlockParser& b : BlockParsers()) keys.push_back(b.key);
    return keys;
  }();
  return kKeys;
}

Result<UpFile> ParseUpFile(const std::string& text, const std::string& path) {
  Parser p(path);
  UpFile f;
  f.path = path;
  f.base_dir = FileDir(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return p.Error(e.mark, "", e.msg);
  }
  try {
    if (root.IsNull()) return p.Error(YAML::Mark::null_mark(), "", "the file is empty");
    HOIST_RETURN_IF_ERROR(p.Map(root, "", {"registry", "images", "build", "sign", "sbom"}));
    if (root["sign"]) HOIST_RETURN_IF_ERROR(p.NonEmpty(root["sign"], "sign", &f.sign));
    if (root["sbom"]) HOIST_RETURN_IF_ERROR(p.Bool(root["sbom"], "sbom", &f.sbom));
    if (root["registry"]) HOIST_RETURN_IF_ERROR(p.Registry(root["registry"], &f.registry));
    if (root["build"]) HOIST_RETURN_IF_ERROR(p.Build(root["build"], &f.build));
    std::vector<YAML::Mark> marks;
    if (YAML::Node images = root["images"]) {
      if (!images.IsSequence())
        return p.Error(images.Mark(), "images", "expected a list of images");
      std::map<std::string, size_t> names, refs;
      for (size_t i = 0; i < images.size(); ++i) {
        std::string field = "images[" + std::to_string(i) + "]";
        ImageSpec img;
        HOIST_RETURN_IF_ERROR(p.Image(images[i], field, &img));
        YAML::Mark m = images[i].Mark();
        std::string ref = img.FinalReference("<registry>");
        if (auto it = refs.find(ref); it != refs.end()) {
          return p.Error(m, field,
                         "final reference " + ref + " is also that of images[" +
                             std::to_string(it->second) + "] (line " +
                             std::to_string(f.images[it->second].line) + ")");
        }
        if (auto it = names.find(img.name); it != names.end()) {
          return p.Error(m, field + ".name",
                         "\"" + img.name + "\" is already the name of images[" +
                             std::to_string(it->second) + "] (line " +
                             std::to_string(f.images[it->second].line) + ")");
        }
        names[img.name] = i;
        refs[ref] = i;
        marks.push_back(m);
        f.images.push_back(std::move(img));
      }
    }
    HOIST_RETURN_IF_ERROR(CheckDependencies(p, f, marks));
  } catch (const YAML::Exception& e) {
    return p.Error(e.mark, "", e.msg);
  }
  return f;
}

Result<UpFile> LoadUpFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return Status(Code::kNotFound, path + ": no such file");
    return ErrnoStatus("open", path);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseUpFile(ss.str(), path);
}

std::string ResolvePath(const std::string& base_dir, const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  if (p.empty() || p == ".") return base_dir;
  std::string rel = p;
  while (rel.rfind("./", 0) == 0) rel.erase(0, 2);
  return base_dir + "/" + rel;
}

std::string SubstituteRegistry(std::string s, const std::string& registry) {
  static const std::string kVar = "${REGISTRY}";
  for (size_t pos = s.find(kVar); pos != std::string::npos; pos = s.find(kVar, pos)) {
    s.replace(pos, kVar.size(), registry);
    pos += registry.size();
  }
  return s;
}

bool ParseDuration(std::string_view s, Millis* out) {
  // Go's time.ParseDuration (the Dockerfile frontend's), plus bare seconds.
  std::string text(s);
  if (!text.empty() && text.find_first_not_of("0123456789.") == std::string::npos) text += "s";
  Result<int64_t> ns = dockerfile::ParseDuration(text);
  if (!ns.ok() || *ns < 0 || *ns > int64_t{7} * 24 * 3600 * 1000000000) return false;
  *out = Millis((*ns + 500000) / 1000000);
  return true;
}

std::string FormatDuration(Millis d) {
  int64_t ms = d.count();
  char buf[32];
  if (ms < 1000) {
    std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
  } else if (ms < 60000) {
    std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000.0);
  } else {
    std::snprintf(buf, sizeof buf, "%lldm%llds", static_cast<long long>(ms / 60000),
                  static_cast<long long>(ms % 60000 / 1000));
  }
  return buf;
}

}  // namespace hoist::up
