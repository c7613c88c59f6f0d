// The image half of the Docker Engine API (docs.docker.com/reference/api/
// engine/, v1.24 to v1.51), over hoist's builder, transfer and local
// content store, so the docker CLI, docker-compose's build, Testcontainers
// and Docker.DotNet work with no dockerd:
//
//   GET|HEAD /_ping, GET /version, GET /info        negotiation
//   POST /build                                     classic builder API (tar context)
//   POST /images/create                             pull (fromImage, tag, platform)
//   POST /images/{name}/push                        push (X-Registry-Auth)
//   GET  /images/json                               list (filters)
//   GET  /images/{name}/json, /history              inspect, history
//   POST /images/{name}/tag                         tag
//   DELETE /images/{name}                           untag / delete (force)
//   GET  /images/{name}/get, /images/get?names=     save (docker-archive tar)
//   POST /images/load                               load
//   POST /images/prune, POST /build/prune           prune
//   GET  /images/search                             [] (no index to search)
//   POST /auth                                      checks credentials
//
// Every path may carry an API version prefix (/v1.47/...). Everything else
// (containers, exec, networks, volumes, swarm, plugins) answers with the
// API's error JSON ({"message": ...}) saying that hoist runs no
// containers: 404 for look-ups of one object (so `docker inspect` moves on
// to images), 501 for the rest.
//
// Progress of build, pull, push and load streams as docker's JSON
// messages ({"stream"}, {"status","id"}, {"aux"}, {"errorDetail","error"}),
// one per line, as the docker CLI renders them.
#pragma once

#include <memory>
#include <string>

#include "builder/dockerapi/http_server.h"
#include "builder/dockerapi/local_images.h"
#include "builder/store/content_store.h"
#include "builder/transfer/image.h"
#include "common/registry_client.h"

namespace hoist::dockerapi {

// The API version hoist speaks (docker 27); clients may ask for any
// version from kMinApiVersion up, with or without a prefix.
inline constexpr const char* kApiVersion = "1.47";
inline constexpr const char* kMinApiVersion = "1.24";

struct EngineOptions {
  // The registry that Docker Hub names ("app", "library/app") are pushed
  // to and pulled from ("host:port"; "" = Docker Hub itself, as docker).
  std::string registry;
  transfer::Platform platform;    // the images' default platform
  RegistryClientOptions client;   // TLS, plain-HTTP hosts, retries
  std::string version = "0.0.0";  // hoist's, for /version
  int jobs = 4;                   // blobs transferred at once
};

class Api {
 public:
  // `store` outlives the Api.
  Api(store::ContentStore& store, EngineOptions options);
  ~Api();
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;

  // Answers one request. Safe for concurrent use (one thread per
  // connection).
  void Handle(Request& req, ResponseWriter& w);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hoist::dockerapi
