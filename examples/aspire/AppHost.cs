// The example's registry and images, declared the Aspire way and run by hoist:
// `dotnet run` here (after `./dev run` or a cmake build made ../../build/cli/hoist).
// The same declaration for `hoist up` is ../hoist.yaml.

var builder = DistributedApplication.CreateBuilder(args);

// `hoist registry serve` on a port Aspire allocates; storage in .hoist/registry here.
var registry = builder.AddDockerRegistry("local-registry", volumeName: "registry");

// An import: the busybox base, an OCI layout made offline by ../make-base.sh
// (made first by the example's own strategy when it is missing).
registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library",
    sourceImage: "oci:../.hoist/base", tag: "latest",
    buildStrategy: new MakeBaseFirst(script: "../make-base.sh", layout: "../.hoist/base"));

// Dockerfile builds FROM the imported image (${REGISTRY} is the registry's host:port),
// once it is pushed.
var busyboxBase = new Dictionary<string, string> { ["BASE"] = "${REGISTRY}/library/busybox:latest" };
registry.WithRegistryDockerfile(imageName: "web", imageNamePrefix: "examples",
    dockerfileContext: "../web", tag: "latest", buildArgs: busyboxBase, dependsOn: ["busybox"]);
registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples",
    dockerfileContext: "../app", tag: "1.0", target: "runtime", buildArgs: busyboxBase, dependsOn: ["busybox"]);

// An import from a registry, under a tag of its own (here the registry itself is the source).
registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "your/custom/image/prefix",
    sourceImage: "${REGISTRY}/library/busybox:latest", tag: "custom", dependsOn: ["library/busybox"]);

// The Docker Engine API over the registry's images: `hoist engine`.
var dockerApi = builder.AddDockerApiResource(registry);

// A consumer: gets REGISTRY=host:port, the connection string and DOCKER_HOST, and
// starts once the registry is healthy and its images are pushed.
builder.AddExecutable("list-images", registry.Resource.Command, ".", "catalog")
    .WithArgs(context => context.Args.Add(registry.Resource.Address))
    .WithReference(registry)
    .WithReference(dockerApi)
    .WaitFor(registry);

builder.Build().Run();
