// Authentication and access control (registry/access.h): htpasswd files
// made by Apache's htpasswd -B, policy files, the gate's answers.
#include "registry/access.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "common/base64.h"

namespace hoist::registry {
namespace {

struct Files {
  std::string dir;
  Files() {
    dir = (std::filesystem::temp_directory_path() / "hoist-access-XXXXXX").string();
    REQUIRE(::mkdtemp(dir.data()) != nullptr);
  }
  ~Files() { std::filesystem::remove_all(dir); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(dir + "/" + name) << text;
    return dir + "/" + name;
  }
};

http::Request WithBasic(const std::string& user_pass) {
  http::Request r;
  r.headers.emplace_back("Authorization", "Basic " + Base64Encode(user_pass));
  return r;
}

TEST_CASE("htpasswd: bcrypt entries from htpasswd -B verify; others are refused", "[access]") {
  Files f;
  std::string path = f.dir + "/htpasswd";
  REQUIRE(std::system(("htpasswd -B -b -C 4 -c '" + path + "' alice s3cret 2>/dev/null").c_str()) ==
          0);
  REQUIRE(std::system(("htpasswd -B -b -C 4 '" + path + "' bob 'pa:ss' 2>/dev/null").c_str()) == 0);
  Result<Htpasswd> h = Htpasswd::Load(path);
  REQUIRE(h.ok());
  CHECK(h->size() == 2);
  CHECK(h->Verify("alice", "s3cret"));
  CHECK(h->Verify("bob", "pa:ss"));
  CHECK_FALSE(h->Verify("alice", "s3cret "));
  CHECK_FALSE(h->Verify("alice", ""));
  CHECK_FALSE(h->Verify("carol", "s3cret"));

  Result<Htpasswd> md5 = Htpasswd::Load(f.Write("md5", "# comment\n\nx:$apr1$abc$def\n"));
  CHECK(md5.status().code() == Code::kInvalidArgument);
  CHECK(md5.status().message().find(":3: the hash of x is not bcrypt") != std::string::npos);
  CHECK(Htpasswd::Load(f.Write("nocolon", "justaname\n")).status().message().find(":1:") !=
        std::string::npos);
  CHECK_FALSE(Htpasswd::Load(f.dir + "/missing").ok());
}

TEST_CASE("policy: first matching rule decides; users, groups, anonymous, authenticated",
          "[access]") {
  Files f;
  Result<AccessPolicy> p = AccessPolicy::Load(f.Write("p.yaml", R"(
groups:
  ops: [olga]
repositories:
  - match: "public/*"
    pull: [anonymous]
    push: ["@ops"]
  - match: "team/*"
    pull: [authenticated]
    push: [tom, "@ops"]
    delete: ["@ops"]
)"));
  REQUIRE(p.ok());
  Identity anon, tom{"tom"}, olga{"olga"}, eve{"eve"};
  CHECK(p->Allows(anon, "public/x", Action::kPull));
  CHECK(p->Allows(anon, "public/a/b", Action::kPull));  // '*' crosses '/'
  CHECK_FALSE(p->Allows(anon, "public/x", Action::kPush));
  CHECK(p->Allows(olga, "public/x", Action::kPush));
  CHECK_FALSE(p->Allows(tom, "public/x", Action::kPush));  // the first match decides
  CHECK_FALSE(p->Allows(anon, "team/x", Action::kPull));
  CHECK(p->Allows(eve, "team/x", Action::kPull));
  CHECK(p->Allows(tom, "team/x", Action::kPush));
  CHECK_FALSE(p->Allows(tom, "team/x", Action::kDelete));
  CHECK(p->Allows(olga, "team/x", Action::kDelete));
  CHECK_FALSE(p->Allows(olga, "other/x", Action::kPull));  // no rule: nothing

  for (const auto& [text, msg] : std::vector<std::pair<std::string, std::string>>{
           {"repositories: {}\n", "repositories: expected a list"},
           {"repositories:\n  - pull: [a]\n", "match is required"},
           {"repositories:\n  - match: x\n    pul: [a]\n", "unknown key \"pul\""},
           {"repositories:\n  - match: x\n    pull: \"@g\"\n", "expected a list"},
           {"repositories:\n  - match: x\n    pull: [\"@g\"]\n", "unknown group @g"},
           {"groups: [a]\nrepositories: []\n", "groups: expected a mapping"},
           {"extra: 1\nrepositories: []\n", "unknown key \"extra\""},
       }) {
    CAPTURE(text);
    Result<AccessPolicy> bad = AccessPolicy::Load(f.Write("bad.yaml", text));
    CHECK(bad.status().code() == Code::kInvalidArgument);
    CHECK(bad.status().message().find(msg) != std::string::npos);
  }
}

TEST_CASE("gate: identities from Basic credentials, refusals in the spec's codes", "[access]") {
  Files f;
  std::string path = f.dir + "/htpasswd";
  REQUIRE(std::system(("htpasswd -B -b -C 4 -c '" + path + "' alice s3cret 2>/dev/null").c_str()) ==
          0);
  Gate open;
  CHECK_FALSE(open.enabled());
  CHECK(open.Allows(Identity{}, "any/thing", Action::kDelete));
  CHECK(open.Authenticate(WithBasic("whoever:whatever"))->anonymous());

  Gate::Options o;
  o.htpasswd = *Htpasswd::Load(path);
  Gate g(std::move(o));
  CHECK(g.Authenticate(http::Request{})->anonymous());
  CHECK(g.Authenticate(WithBasic("alice:s3cret"))->user == "alice");
  CHECK(g.Authenticate(WithBasic("alice:nope")).status().code() == Code::kUnauthorized);
  http::Request bearer;
  bearer.headers.emplace_back("Authorization", "Bearer abc");
  CHECK(g.Authenticate(bearer).status().code() == Code::kUnauthorized);
  http::Request junk;
  junk.headers.emplace_back("Authorization", "Basic !!!");
  CHECK(g.Authenticate(junk).status().code() == Code::kUnauthorized);
  // htpasswd alone: any signed-in user may do everything, anonymous nothing.
  CHECK(g.Allows(Identity{"alice"}, "x", Action::kDelete));
  CHECK_FALSE(g.Allows(Identity{}, "x", Action::kPull));
  ResourceActions pull_x{"repository", "x", {"pull"}};
  CHECK(g.Refusal(Identity{}, pull_x).code() == Code::kUnauthorized);
  CHECK(g.Refusal(Identity{"alice"}, pull_x).code() == Code::kDenied);
  CHECK(g.Challenge(http::Request{}, "repository:x:pull", Identity{}) == "Basic realm=\"hoist\"");
}

TEST_CASE("scopes: type, name and actions, as challenges and token requests spell them",
          "[access][token]") {
  Result<ResourceActions> r = ResourceActions::ParseScope("repository:team/app:pull,push");
  REQUIRE(r.ok());
  CHECK(r->type == "repository");
  CHECK(r->name == "team/app");
  CHECK(r->actions == std::set<std::string>{"pull", "push"});
  CHECK(r->ScopeString() == "repository:team/app:pull,push");
  // A resource class; a registry host with a port inside the name.
  CHECK(ResourceActions::ParseScope("repository(plugin):x:pull")->type == "repository");
  CHECK(ResourceActions::ParseScope("repository:host:5000/x:pull")->name == "host:5000/x");
  CHECK(ResourceActions::ParseScope("registry:catalog:*")->Grants("anything"));
  for (const char* bad : {"", "nonsense", "repository:x", ":x:pull", "repository::pull"}) {
    CHECK_FALSE(ResourceActions::ParseScope(bad).ok());
  }
}

// An issuer and a verifier over keys openssl makes here.
struct TokenFiles : Files {
  TokenSettings s;
  explicit TokenFiles(const std::string& newkey = "ec -pkeyopt ec_paramgen_curve:P-256") {
    std::string cmd = "cd '" + dir + "' && openssl req -x509 -newkey " + newkey +
                      " -nodes -days 2 -subj /CN=t -keyout key.pem -out cert.pem 2>/dev/null";
    REQUIRE(std::system(cmd.c_str()) == 0);
    s.service = "svc";
    s.issuer = "iss";
    s.cert_bundle = dir + "/cert.pem";
    s.signing_key = dir + "/key.pem";
  }
};

std::string Segment(const std::string& json) {
  std::string b = Base64Encode(json);
  for (char& c : b) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!b.empty() && b.back() == '=') b.pop_back();
  return b;
}

TEST_CASE("tokens: issued ones verify; expired, foreign, unsigned and re-signed ones do not",
          "[access][token]") {
  for (const char* newkey : {"ec -pkeyopt ec_paramgen_curve:P-256", "rsa:2048"}) {
    TokenFiles f(newkey);
    Result<TokenVerifier> v = TokenVerifier::Load(f.s);
    REQUIRE(v.ok());
    Result<TokenIssuer> issuer = TokenIssuer::Load(f.s, *v);
    REQUIRE(issuer.ok());
    const int64_t now = 1'800'000'000;
    std::vector<ResourceActions> access = {{"repository", "team/app", {"pull", "push"}}};
    Result<std::string> tok = issuer->Issue("alice", access, now);
    REQUIRE(tok.ok());
    Result<TokenClaims> c = v->Verify(*tok, now + 10);
    REQUIRE(c.ok());
    CHECK(c->subject == "alice");
    CHECK(c->Grants("repository", "team/app", "push"));
    CHECK_FALSE(c->Grants("repository", "team/app", "delete"));
    CHECK_FALSE(c->Grants("repository", "team/other", "pull"));
    // Expiry and not-before, with distribution's 60 seconds of leeway.
    CHECK(v->Verify(*tok, now + f.s.ttl_seconds + 59).ok());
    CHECK(v->Verify(*tok, now + f.s.ttl_seconds + 61).status().code() == Code::kUnauthorized);
    CHECK(v->Verify(*tok, now - 61).status().code() == Code::kUnauthorized);
    // Another service or issuer expected: refused.
    TokenSettings other = f.s;
    other.service = "elsewhere";
    CHECK_FALSE(TokenVerifier::Load(other)->Verify(*tok, now).ok());
    other = f.s;
    other.issuer = "someone";
    CHECK_FALSE(TokenVerifier::Load(other)->Verify(*tok, now).ok());
    // A changed payload, alg "none", and HS256 keyed with the public
    // certificate: all refused before any claim is read.
    size_t dot1 = tok->find('.'), dot2 = tok->rfind('.');
    std::string body =
        Segment(R"({"iss":"iss","aud":"svc","sub":"mallory","exp":1900000000,)"
                R"("access":[{"type":"repository","name":"team/app","actions":["*"]}]})");
    CHECK_FALSE(v->Verify(tok->substr(0, dot1 + 1) + body + tok->substr(dot2), now).ok());
    CHECK_FALSE(v->Verify(Segment(R"({"alg":"none","typ":"JWT"})") + "." + body + ".", now).ok());
    CHECK_FALSE(v->Verify(Segment(R"({"alg":"none","typ":"JWT"})") + "." + body + ".x", now).ok());
    CHECK_FALSE(v->Verify(Segment(R"({"alg":"HS256","typ":"JWT"})") + "." + body + ".x", now).ok());
    CHECK_FALSE(v->Verify("not a token", now).ok());
  }
}

TEST_CASE("tokens: a key whose certificate is not in the bundle is refused at load",
          "[access][token]") {
  TokenFiles a, b;
  TokenSettings mixed = a.s;
  mixed.signing_key = b.s.signing_key;
  Result<TokenVerifier> v = TokenVerifier::Load(mixed);
  REQUIRE(v.ok());
  Result<TokenIssuer> i = TokenIssuer::Load(mixed, *v);
  REQUIRE_FALSE(i.ok());
  CHECK(i.status().message().find("not in") != std::string::npos);
  TokenSettings none = a.s;
  none.cert_bundle = a.Write("empty.pem", "");
  CHECK_FALSE(TokenVerifier::Load(none).ok());
}

TEST_CASE("gate with tokens: grants decide; refusals ask for a wider token where the policy allows",
          "[access][token]") {
  TokenFiles f;
  std::string policy = f.Write("policy.yaml", R"(repositories:
  - match: "*"
    pull: [authenticated]
    push: [alice]
)");
  Gate::Options o;
  o.policy = *AccessPolicy::Load(policy);
  o.verifier = *TokenVerifier::Load(f.s);
  o.issuer = *TokenIssuer::Load(f.s, *o.verifier);
  Gate g(std::move(o));
  REQUIRE(g.enabled());
  REQUIRE(g.issuing());
  TokenClaims pull_only;
  pull_only.access = {{"repository", "x", {"pull"}}};
  Identity bob("bob", pull_only), alice("alice", pull_only);
  CHECK(g.Allows(bob, "x", Action::kPull));
  CHECK_FALSE(g.Allows(bob, "x", Action::kPush));
  CHECK_FALSE(g.Allows(bob, "y", Action::kPull));
  ResourceActions push_x{"repository", "x", {"push"}};
  CHECK(g.Refusal(bob, push_x).code() == Code::kDenied);          // the policy says no
  CHECK(g.Refusal(alice, push_x).code() == Code::kUnauthorized);  // a wider token would do
  CHECK(g.Refusal(Identity{}, push_x).code() == Code::kUnauthorized);
  http::Request req;
  req.headers.emplace_back("Host", "127.0.0.1:5000\"bad");
  CHECK(g.Challenge(req, "repository:x:push", alice) ==
        "Bearer realm=\"http://127.0.0.1:5000bad/token\",service=\"svc\","
        "scope=\"repository:x:push\",error=\"insufficient_scope\"");
  CHECK(g.Challenge(req, "repository:x:push", Identity{}) ==
        "Bearer realm=\"http://127.0.0.1:5000bad/token\",service=\"svc\","
        "scope=\"repository:x:push\"");
  // Basic credentials are no way in; a bad token is refused, and the
  // challenge says the token was invalid (RFC 6750 §3.1).
  CHECK(g.Authenticate(WithBasic("alice:x")).status().code() == Code::kUnauthorized);
  http::Request bearer;
  bearer.headers.emplace_back("Authorization", "Bearer abc.def.ghi");
  bearer.headers.emplace_back("Host", "127.0.0.1:5000");
  Result<Identity> bad = g.Authenticate(bearer);
  CHECK(bad.status().code() == Code::kUnauthorized);
  CHECK_THAT(g.Challenge(bearer, "", bad), Catch::EndsWith(",error=\"invalid_token\""));
  CHECK_THAT(g.Challenge(WithBasic("alice:x"), "", g.Authenticate(WithBasic("alice:x"))),
             !Catch::Contains("error="));
}

}  // namespace
}  // namespace hoist::registry
