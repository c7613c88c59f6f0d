// The registry and images of ../hoist.yaml, declared the Aspire way and run by
// hoist: `dotnet run` here once ../../build/cli/hoist exists (`./dev run -d`, or
// the cmake build). The dashboard is at http://localhost:15080.

var builder = DistributedApplication.CreateBuilder(args);

// `hoist registry serve` on a port Aspire allocates; storage in .hoist/registry here.
var registry = builder.AddDockerRegistry("local-registry", volumeName: "registry");

// An import: the busybox base, an OCI layout made offline by ../make-base.sh
// (busybox from Debian's busybox-static); the example's own strategy makes it
// first when it is missing.
registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library",
    sourceImage: "oci:../.hoist/base", tag: "latest",
    buildStrategy: new CommandThenImport("bash ../make-base.sh \"$HOIST_OUTPUT\"", onlyWhenMissing: true));

// Dockerfile builds FROM the imported image (${REGISTRY} is the registry's
// host:port), once it is pushed. app is multi-stage with a RUN step.
var busyboxBase = new Dictionary<string, string> { ["BASE"] = "${REGISTRY}/library/busybox:latest" };
registry.WithRegistryDockerfile(imageName: "web", imageNamePrefix: "examples",
    dockerfileContext: "../web", tag: "latest", buildArgs: busyboxBase, dependsOn: ["busybox"]);
registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples",
    dockerfileContext: "../app", tag: "1.0", target: "runtime", buildArgs: busyboxBase, dependsOn: ["busybox"]);

// A custom strategy: any command that leaves an OCI image layout in
// $HOIST_OUTPUT (here the same maker, writing a two-platform index).
registry.WithRegistryImage(imageName: "busybox-multiarch", imageNamePrefix: "tools",
    sourceImage: "oci:.hoist/work/busybox-multiarch/out", tag: "latest",
    buildStrategy: new CommandThenImport("bash ../make-base.sh --platforms linux/amd64,linux/arm64 \"$HOIST_OUTPUT\""));

// The Docker Engine API over the registry's images: `hoist engine`.
var dockerApi = builder.AddDockerApiResource(registry);

// A consumer: gets REGISTRY=host:port (and the connection string) and DOCKER_HOST,
// and starts once the registry is healthy and its images are pushed; it lists them.
builder.AddExecutable("list-images", registry.Resource.Command, ".", "catalog")
    .WithArgs(context => context.Args.Add(registry.Resource.Address))
    .WithReference(registry)
    .WithReference(dockerApi)
    .WaitFor(registry);

builder.Build().Run();
