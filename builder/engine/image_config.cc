#include "builder/engine/image_config.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <variant>

#include "builder/dockerfile/dockerignore.h"
#include "builder/dockerfile/plan.h"

namespace hoist::engine {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using namespace dockerfile;

std::vector<std::string> Strings(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const json& e : j) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

std::string String(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::set<std::string> Keys(const json& obj) {
  std::set<std::string> out;
  if (!obj.is_object()) return out;
  for (auto it = obj.begin(); it != obj.end(); ++it) out.insert(it.key());
  return out;
}

int64_t Int(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

Status Invalid(const std::string& why) {
  return Status(Code::kManifestInvalid, "image config: " + why);
}

ordered_json SetOf(const std::set<std::string>& s) {
  ordered_json o = ordered_json::object();
  for (const std::string& k : s) o[k] = ordered_json::object();
  return o;
}

// The command line with SHELL (or the default) prepended for shell form.
std::vector<std::string> WithShell(const ContainerConfig& c, const CommandLine& cl) {
  if (!cl.prepend_shell) return cl.args;
  std::vector<std::string> out = c.shell;
  if (out.empty()) out.assign(std::begin(kDefaultShell), std::end(kDefaultShell));
  out.insert(out.end(), cl.args.begin(), cl.args.end());
  return out;
}

void SetEnv(std::vector<std::string>* env, const std::string& k, const std::string& v) {
  for (std::string& e : *env) {
    if (e.substr(0, e.find('=')) == k) {
      e = k + "=" + v;
      return;
    }
  }
  env->push_back(k + "=" + v);
}

struct Dispatcher {
  ImageConfig* cfg;
  DispatchState* state;
  std::string* history;

  ContainerConfig& c() { return cfg->config; }

  Status operator()(const EnvCommand& e) {
    std::string msg = "ENV";
    for (const KeyValue& kv : e.env) {
      SetEnv(&c().env, kv.key, kv.value);
      msg += " " + kv.key + "=" + kv.value;
    }
    *history = msg;
    return Status::Ok();
  }
  Status operator()(const LabelCommand& l) {
    std::string msg = "LABEL";
    for (const KeyValue& kv : l.labels) {
      c().labels[kv.key] = kv.value;
      msg += " " + kv.key + "=" + kv.value;
    }
    *history = msg;
    return Status::Ok();
  }
  Status operator()(const MaintainerCommand& m) {
    cfg->author = m.maintainer;
    *history = "MAINTAINER " + m.maintainer;
    return Status::Ok();
  }
  Status operator()(const CmdCommand& cmd) {
    c().cmd = WithShell(c(), cmd.cmdline);
    c().args_escaped = true;
    state->cmd_set = true;
    *history = "CMD " + GoQuoteList(c().cmd);
    return Status::Ok();
  }
  Status operator()(const EntrypointCommand& ep) {
    c().entrypoint = WithShell(c(), ep.cmdline);
    if (!state->cmd_set) c().cmd.clear();
    *history = "ENTRYPOINT " + GoQuoteList(c().entrypoint);
    return Status::Ok();
  }
  Status operator()(const ShellCommand& s) {
    c().shell = s.shell;
    *history = "SHELL " + GoList(s.shell);
    return Status::Ok();
  }
  Status operator()(const ExposeCommand& e) {
    Result<std::vector<std::string>> ports = ParseExposedPorts(e.ports);
    if (!ports.ok()) return ports.status();
    std::set<std::string> set(ports->begin(), ports->end());
    std::string msg = "EXPOSE map[";
    bool first = true;
    for (const std::string& p : set) {
      c().exposed_ports.insert(p);
      msg += (first ? "" : " ") + p + ":{}";
      first = false;
    }
    *history = msg + "]";
    return Status::Ok();
  }
  Status operator()(const VolumeCommand& v) {
    for (const std::string& p : v.volumes) {
      if (p.empty()) {
        return Status(Code::kInvalidArgument, "VOLUME specified can not be an empty string");
      }
      c().volumes.insert(p);
    }
    *history = "VOLUME " + GoList(v.volumes);
    return Status::Ok();
  }
  Status operator()(const UserCommand& u) {
    c().user = u.user;
    *history = "USER " + u.user;
    return Status::Ok();
  }
  Status operator()(const StopSignalCommand& s) {
    Result<int> sig = ParseSignal(s.signal);
    if (!sig.ok()) return sig.status();
    c().stop_signal = s.signal;
    *history = "STOPSIGNAL " + s.signal;
    return Status::Ok();
  }
  Status operator()(const ArgCommand& a) {
    std::string msg = "ARG";
    for (const ArgDef& d : a.args) msg += " " + d.key + (d.value ? "=" + *d.value : "");
    *history = msg;
    return Status::Ok();
  }
  Status operator()(const OnbuildCommand& o) {
    c().on_build.push_back(o.expression);
    history->clear();  // BuildKit records no history for ONBUILD
    return Status::Ok();
  }
  Status operator()(const HealthcheckCommand& h) {
    HealthConfig hc{h.test,   h.interval_ns, h.timeout_ns, h.start_period_ns, h.start_interval_ns,
                    h.retries};
    c().healthcheck = hc;
    // fmt.Sprintf("HEALTHCHECK %+v", HealthcheckConfig)
    *history = "HEALTHCHECK {Test:" + GoList(hc.test) + " Interval:" + GoDuration(hc.interval_ns) +
               " Timeout:" + GoDuration(hc.timeout_ns) +
               " StartPeriod:" + GoDuration(hc.start_period_ns) +
               " StartInterval:" + GoDuration(hc.start_interval_ns) +
               " Retries:" + std::to_string(hc.retries) + "}";
    return Status::Ok();
  }
  template <class T>
  Status operator()(const T&) {
    return Status(Code::kInternal, "not a metadata instruction");
  }
};

// Go's strconv.FormatFloat(v, 'f', -1, 64) for the fractional part of a
// duration: digits without trailing zeros.
std::string Fraction(uint64_t v, int digits) {
  std::string s = std::to_string(v);
  s.insert(0, static_cast<size_t>(digits) - std::min<size_t>(s.size(), digits), '0');
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s.empty() ? "" : "." + s;
}

}  // namespace

Result<ImageConfig> ImageConfig::Parse(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return Invalid("not a JSON object");
  ImageConfig out;
  out.created = String(j, "created");
  out.author = String(j, "author");
  out.architecture = String(j, "architecture");
  out.os = String(j, "os");
  out.os_version = String(j, "os.version");
  out.variant = String(j, "variant");
  if (j.contains("os.features")) out.os_features = Strings(j["os.features"]);
  if (auto it = j.find("config"); it != j.end() && it->is_object()) {
    const json& c = *it;
    ContainerConfig& cc = out.config;
    cc.user = String(c, "User");
    if (c.contains("ExposedPorts")) cc.exposed_ports = Keys(c["ExposedPorts"]);
    if (c.contains("Env")) cc.env = Strings(c["Env"]);
    if (c.contains("Entrypoint")) cc.entrypoint = Strings(c["Entrypoint"]);
    if (c.contains("Cmd")) cc.cmd = Strings(c["Cmd"]);
    if (c.contains("Volumes")) cc.volumes = Keys(c["Volumes"]);
    cc.working_dir = String(c, "WorkingDir");
    if (auto l = c.find("Labels"); l != c.end() && l->is_object()) {
      for (auto e = l->begin(); e != l->end(); ++e) {
        if (e->is_string()) cc.labels[e.key()] = e->get<std::string>();
      }
    }
    cc.stop_signal = String(c, "StopSignal");
    if (auto a = c.find("ArgsEscaped"); a != c.end() && a->is_boolean()) cc.args_escaped = *a;
    if (auto h = c.find("Healthcheck"); h != c.end() && h->is_object()) {
      HealthConfig hc;
      if (h->contains("Test")) hc.test = Strings((*h)["Test"]);
      hc.interval_ns = Int(*h, "Interval");
      hc.timeout_ns = Int(*h, "Timeout");
      hc.start_period_ns = Int(*h, "StartPeriod");
      hc.start_interval_ns = Int(*h, "StartInterval");
      hc.retries = static_cast<int>(Int(*h, "Retries"));
      cc.healthcheck = hc;
    }
    if (c.contains("OnBuild")) cc.on_build = Strings(c["OnBuild"]);
    if (c.contains("Shell")) cc.shell = Strings(c["Shell"]);
  }
  if (auto r = j.find("rootfs"); r != j.end() && r->is_object()) {
    if (auto d = r->find("diff_ids"); d != r->end() && d->is_array()) {
      for (const json& e : *d) {
        if (!e.is_string()) return Invalid("rootfs.diff_ids holds a non-string");
        Result<Digest> dg = Digest::Parse(e.get<std::string>());
        if (!dg.ok()) return Invalid("rootfs.diff_ids: " + dg.status().message());
        out.diff_ids.push_back(*dg);
      }
    }
  }
  if (auto h = j.find("history"); h != j.end() && h->is_array()) {
    for (const json& e : *h) {
      if (!e.is_object()) continue;
      HistoryEntry he;
      he.created = String(e, "created");
      he.author = String(e, "author");
      he.created_by = String(e, "created_by");
      he.comment = String(e, "comment");
      if (auto el = e.find("empty_layer"); el != e.end() && el->is_boolean()) he.empty_layer = *el;
      out.history.push_back(std::move(he));
    }
  }
  return out;
}

ImageConfig ImageConfig::Scratch(const Platform& p) {
  ImageConfig c;
  c.architecture = p.arch;
  c.os = p.os;
  c.variant = p.variant;
  c.config.working_dir = "/";
  c.config.env = {std::string("PATH=") + kDefaultPathEnv};
  return c;
}

std::string ImageConfig::Serialize() const {
  ordered_json j = ordered_json::object();
  if (!created.empty()) j["created"] = created;
  if (!author.empty()) j["author"] = author;
  j["architecture"] = architecture;
  j["os"] = os;
  if (!os_version.empty()) j["os.version"] = os_version;
  if (!os_features.empty()) j["os.features"] = os_features;
  if (!variant.empty()) j["variant"] = variant;
  ordered_json c = ordered_json::object();
  const ContainerConfig& cc = config;
  if (!cc.user.empty()) c["User"] = cc.user;
  if (!cc.exposed_ports.empty()) c["ExposedPorts"] = SetOf(cc.exposed_ports);
  if (!cc.env.empty()) c["Env"] = cc.env;
  if (!cc.entrypoint.empty()) c["Entrypoint"] = cc.entrypoint;
  if (!cc.cmd.empty()) c["Cmd"] = cc.cmd;
  if (!cc.volumes.empty()) c["Volumes"] = SetOf(cc.volumes);
  if (!cc.working_dir.empty()) c["WorkingDir"] = cc.working_dir;
  if (!cc.labels.empty()) {
    ordered_json l = ordered_json::object();
    for (const auto& [k, v] : cc.labels) l[k] = v;
    c["Labels"] = l;
  }
  if (!cc.stop_signal.empty()) c["StopSignal"] = cc.stop_signal;
  if (cc.args_escaped) c["ArgsEscaped"] = true;
  if (cc.healthcheck) {
    const HealthConfig& h = *cc.healthcheck;
    ordered_json hj = ordered_json::object();
    if (!h.test.empty()) hj["Test"] = h.test;
    if (h.interval_ns) hj["Interval"] = h.interval_ns;
    if (h.timeout_ns) hj["Timeout"] = h.timeout_ns;
    if (h.start_period_ns) hj["StartPeriod"] = h.start_period_ns;
    if (h.start_interval_ns) hj["StartInterval"] = h.start_interval_ns;
    if (h.retries) hj["Retries"] = h.retries;
    c["Healthcheck"] = hj;
  }
  if (!cc.on_build.empty()) c["OnBuild"] = cc.on_build;
  if (!cc.shell.empty()) c["Shell"] = cc.shell;
  j["config"] = c;
  ordered_json ids = ordered_json::array();
  for (const Digest& d : diff_ids) ids.push_back(d.str());
  j["rootfs"] = {{"type", "layers"}, {"diff_ids", ids}};
  if (!history.empty()) {
    ordered_json h = ordered_json::array();
    for (const HistoryEntry& e : history) {
      ordered_json he = ordered_json::object();
      if (!e.created.empty()) he["created"] = e.created;
      if (!e.author.empty()) he["author"] = e.author;
      if (!e.created_by.empty()) he["created_by"] = e.created_by;
      if (!e.comment.empty()) he["comment"] = e.comment;
      if (e.empty_layer) he["empty_layer"] = true;
      h.push_back(std::move(he));
    }
    j["history"] = h;
  }
  return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

std::optional<std::string> ImageConfig::GetEnv(std::string_view key) const {
  std::optional<std::string> out;
  for (const std::string& e : config.env) {
    size_t eq = e.find('=');
    if (std::string_view(e).substr(0, eq) == key) {
      out = eq == std::string::npos ? std::string() : e.substr(eq + 1);
    }
  }
  return out;
}

bool IsMetadataCommand(const Command& c) {
  return !std::holds_alternative<CopyCommand>(c) && !std::holds_alternative<AddCommand>(c) &&
         !std::holds_alternative<RunCommand>(c) && !std::holds_alternative<WorkdirCommand>(c);
}

Status ApplyMetadata(const Command& c, const std::string& created, DispatchState* state,
                     ImageConfig* cfg) {
  std::string history;
  HOIST_RETURN_IF_ERROR(std::visit(Dispatcher{cfg, state, &history}, c));
  if (!history.empty()) AddHistory(cfg, std::move(history), /*empty_layer=*/true, created);
  return Status::Ok();
}

Result<std::string> NormalizeWorkdir(const std::string& current, const std::string& path) {
  if (path.empty()) return Status(Code::kInvalidArgument, "cannot normalize empty path");
  if (path[0] == '/') return path;
  std::string cur = current.empty() ? "/" : current;
  return CleanPath("/" + cur + "/" + path);
}

void AddHistory(ImageConfig* cfg, std::string created_by, bool empty_layer,
                const std::string& created) {
  HistoryEntry e;
  e.created = created;
  e.created_by = std::move(created_by);
  e.comment = std::string(kHistoryComment);
  e.empty_layer = empty_layer;
  cfg->history.push_back(std::move(e));
}

std::string CopyHistoryText(const Command& c) {
  std::string msg;
  auto common = [&](const std::string& chown, const std::string& chmod, const SourcesAndDest& f) {
    if (!chown.empty()) msg += " --chown=" + chown;
    if (!chmod.empty()) msg += " --chmod=" + chmod;
    for (const std::string& s : f.source_paths) msg += " " + s;
    for (const SourceContent& s : f.source_contents) msg += " <<" + s.path;
    msg += " " + f.dest;
  };
  if (const auto* a = std::get_if<AddCommand>(&c)) {
    msg = "ADD";
    common(a->chown, a->chmod, a->files);
  } else if (const auto* cp = std::get_if<CopyCommand>(&c)) {
    msg = "COPY";
    if (cp->parents) msg += " --parents";
    common(cp->chown, cp->chmod, cp->files);
  }
  return msg + " # buildkit";
}

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char ch = static_cast<unsigned char>(s[i]);
    switch (ch) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\a':
        out += "\\a";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\v':
        out += "\\v";
        continue;
      default:
        break;
    }
    if (ch < 0x20 || ch == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
      continue;
    }
    if (ch < 0x80) {
      out += static_cast<char>(ch);
      continue;
    }
    // A valid UTF-8 sequence is kept (printable, as strconv.Quote keeps
    // letters); a stray byte becomes \xNN.
    size_t len = ch >= 0xf0 ? 4 : ch >= 0xe0 ? 3 : ch >= 0xc0 ? 2 : 0;
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) {
      valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    }
    if (!valid) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", ch);
      out += buf;
      continue;
    }
    out.append(s.substr(i, len));
    i += len - 1;
  }
  return out + "\"";
}

std::string GoQuoteList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + GoQuote(v[i]);
  return out + "]";
}

std::string GoList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

std::string GoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  bool neg = ns < 0;
  uint64_t u = neg ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  std::string out;
  if (u < 1000000000ULL) {
    // Sub-second: the largest unit that keeps an integer part.
    if (u < 1000ULL) {
      out = std::to_string(u) + "ns";
    } else if (u < 1000000ULL) {
      out = std::to_string(u / 1000) + Fraction(u % 1000, 3) + "\xc2\xb5s";
    } else {
      out = std::to_string(u / 1000000) + Fraction(u % 1000000, 6) + "ms";
    }
  } else {
    uint64_t secs = u / 1000000000ULL, frac = u % 1000000000ULL;
    uint64_t h = secs / 3600, m = (secs / 60) % 60, s = secs % 60;
    std::string sec = std::to_string(s) + Fraction(frac, 9) + "s";
    if (h > 0) {
      out = std::to_string(h) + "h" + std::to_string(m) + "m" + sec;
    } else if (m > 0) {
      out = std::to_string(m) + "m" + sec;
    } else {
      out = sec;
    }
  }
  return neg ? "-" + out : out;
}

}  // namespace hoist::engine
