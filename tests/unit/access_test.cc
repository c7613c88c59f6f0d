// Authentication and access control (registry/access.h): htpasswd files
// made by Apache's htpasswd -B, policy files, the gate's answers.
#include "registry/access.h"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

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

  Gate g(*Htpasswd::Load(path), std::nullopt, "hoist");
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
  CHECK(g.Refusal(Identity{}, "pull x").code() == Code::kUnauthorized);
  CHECK(g.Refusal(Identity{"alice"}, "pull x").code() == Code::kDenied);
  CHECK(g.Challenge() == "Basic realm=\"hoist\"");
}

}  // namespace
}  // namespace hoist::registry
