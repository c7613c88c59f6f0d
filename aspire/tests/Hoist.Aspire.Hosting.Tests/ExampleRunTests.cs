using System.Collections.Concurrent;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Hoist.Aspire.Hosting.Tests;

/// <summary>
/// One real app host run: a registry with six images (an import from an OCI layout, a
/// multi-stage Dockerfile with RUN and a one-stage one FROM it, a broken Dockerfile, an
/// image of a custom strategy, and a re-import from the registry itself), a consumer that
/// references the registry and the Docker API, all run by DCP and hoist.
/// </summary>
public sealed class ExampleRunFixture : IAsyncLifetime
{
    public DistributedApplication App { get; private set; } = null!;
    public DockerRegistryResource Registry { get; private set; } = null!;
    public DockerApiResource DockerApi { get; private set; } = null!;
    public RecordingStrategy Strategy { get; } = new();
    public string ConsumerOutput { get; } = Path.Combine(TestEnvironment.NewDirectory("consumer"), "env.txt");
    public string Directory { get; } = TestEnvironment.NewDirectory("example-run");

    public DockerRegistryImageAnnotation Image(string key) => Registry.Images.Single(i => i.Key == key);

    public async Task InitializeAsync()
    {
        var builder = AppHostRun.Create(Directory);
        var busybox = new Dictionary<string, string> { ["BASE"] = "${REGISTRY}/library/busybox:latest" };
        var registry = builder.AddDockerRegistry("registry");
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library", sourceImage: $"oci:{TestEnvironment.BaseLayout}", tag: "latest");
        registry.WithRegistryImage(imageName: "recorded", imageNamePrefix: "tools", sourceImage: $"oci:{TestEnvironment.BaseLayout}", tag: "v1",
            buildStrategy: Strategy);
        registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples", dockerfileContext: TestEnvironment.ExampleApp,
            tag: "1.0", target: "runtime", buildArgs: busybox, dependsOn: ["busybox"]);
        registry.WithRegistryDockerfile(imageName: "web", imageNamePrefix: "examples", dockerfileContext: TestEnvironment.ExampleWeb,
            buildArgs: busybox, dependsOn: ["busybox"]);
        registry.WithRegistryDockerfile(imageName: "broken", imageNamePrefix: "examples", dockerfileContext: AppHostRun.BrokenContext(),
            buildArgs: busybox, dependsOn: ["busybox"]);
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "mirror", sourceImage: "${REGISTRY}/library/busybox:latest",
            tag: "copy", dependsOn: ["library/busybox:latest"]);
        var api = builder.AddDockerApiResource(registry);
        builder.AddExecutable("consumer", "sh", Directory, "-c",
                $"printf '%s\\n%s\\n%s\\n' \"$REGISTRY\" \"$DOCKER_HOST\" \"$ConnectionStrings__registry\" > '{ConsumerOutput}'")
            .WithReference(registry)
            .WithReference(api)
            .WaitFor(registry);
        Registry = registry.Resource;
        DockerApi = api.Resource;

        App = await builder.BuildAsync();
        using var cts = new CancellationTokenSource(AppHostRun.Timeout);
        await App.StartAsync(cts.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync(Registry.Name, cts.Token);
        await AppHostRun.WaitForImagesAsync(App, Registry);
        await App.ResourceNotifications.WaitForResourceAsync("consumer", KnownResourceStates.Finished, cts.Token);
        await App.ResourceNotifications.WaitForResourceHealthyAsync(DockerApi.Name, cts.Token);
    }

    public async Task DisposeAsync()
    {
        if (App is not null)
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }
}

/// <summary>
/// The classes that share the one example run: they run one at a time, alone, like the
/// other app host runs (<see cref="AppHostCollection"/>).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ExampleRunCollection : ICollectionFixture<ExampleRunFixture>
{
    public const string Name = "the example run";
}

[Collection(ExampleRunCollection.Name)]
public sealed class ExampleRunTests(ExampleRunFixture run)
{
    [Fact]
    public async Task TheRegistryIsHealthyOnADynamicLoopbackPort()
    {
        Assert.Matches(@"^127\.0\.0\.1:\d+$", run.Registry.RegistryUrl);
        Assert.NotEqual("127.0.0.1:5000", run.Registry.RegistryUrl);
        Assert.True(run.Registry.PrimaryEndpoint.IsAllocated);
        Assert.Equal(run.Registry.RegistryUrl, await run.Registry.ConnectionStringExpression.GetValueAsync(default));
        Assert.True(run.App.ResourceNotifications.TryGetCurrentState(run.Registry.Name, out var state));
        Assert.Equal(KnownResourceStates.Running, state.Snapshot.State?.Text);
        Assert.Equal(Microsoft.Extensions.Diagnostics.HealthChecks.HealthStatus.Healthy, state.Snapshot.HealthStatus);
        Assert.True(System.IO.Directory.Exists(Path.Combine(run.Registry.StorageDirectory, "docker", "registry", "v2", "repositories")));
    }

    [Theory]
    [InlineData("library/busybox:latest")]
    [InlineData("examples/app:1.0")]
    [InlineData("examples/web:latest")]
    [InlineData("tools/recorded:v1")]
    [InlineData("mirror/busybox:copy")]
    public async Task PushedImagesHaveTheDigestTheRegistryServes(string key)
    {
        var image = run.Image(key);
        Assert.True(image.IsPushed, image.Error);
        Assert.Equal(DockerRegistryImageStates.Pushed, image.State);
        Assert.Null(image.Error);

        var (header, bodyDigest) = await AppHostRun.GetManifestDigestAsync(run.Registry.RegistryUrl!, image.Repository, image.Tag);

        Assert.Equal(header, image.Digest);
        Assert.Equal(bodyDigest, image.Digest);
    }

    [Fact]
    public void TheMultiStageBuildRanItsSteps()
    {
        var app = run.Image("examples/app:1.0");

        Assert.Matches(@"^\d+ step\(s\) run, \d+ cached$", app.BuildSummary);
        Assert.Equal(1, app.Attempts);
    }

    [Fact]
    public void ImportsOfOneImageHaveOneDigest()
    {
        Assert.Equal(run.Image("library/busybox:latest").Digest, run.Image("mirror/busybox:copy").Digest);
        Assert.Equal(run.Image("library/busybox:latest").Digest, run.Image("tools/recorded:v1").Digest);
    }

    [Fact]
    public async Task ABrokenDockerfileFailsOnlyItsImage()
    {
        var broken = run.Image("examples/broken:latest");

        Assert.False(broken.IsPushed);
        Assert.Equal(DockerRegistryImageStates.Failed, broken.State);
        Assert.Contains("Dockerfile:3:1: RUN:", broken.Error);
        Assert.Contains("exit code: 3", broken.Error);
        Assert.Equal(1, broken.Attempts);
        Assert.Equal(5, run.Registry.Images.Count(i => i.IsPushed));
        Assert.True(run.App.ResourceNotifications.TryGetCurrentState(broken.ResourceName, out var state));
        Assert.Equal(DockerRegistryImageStates.Failed, state.Snapshot.State?.Text);
        Assert.Equal(KnownResourceStateStyles.Error, state.Snapshot.State?.Style);
        Assert.Contains(await AppHostRun.GetLogsAsync(run.App, Child(broken)), l => l.Contains("about to fail"));
    }

    [Fact]
    public void AtMostThreeImagesAreProducedAtOnce()
    {
        var max = AppHostRun.MaxConcurrentJobs(run.Registry.Images);

        Assert.InRange(max, 2, 3);
    }

    [Fact]
    public void DependenciesArePushedBeforeTheirDependentsStart()
    {
        var busybox = run.Image("library/busybox:latest");

        foreach (var key in new[] { "examples/app:1.0", "examples/web:latest", "examples/broken:latest", "mirror/busybox:copy" })
        {
            Assert.True(run.Image(key).StartedAt >= busybox.FinishedAt, $"{key} started before busybox was pushed");
        }
    }

    [Fact]
    public void ACustomStrategyGetsTheAnnotationAndTheRegistryUrl()
    {
        var (annotation, registryUrl) = Assert.Single(run.Strategy.Calls);

        Assert.Same(run.Image("tools/recorded:v1"), annotation);
        Assert.Equal(run.Registry.RegistryUrl, registryUrl);
    }

    [Fact]
    public void EachImageIsAChildResourceWithItsStateReferenceAndDigest()
    {
        foreach (var image in run.Registry.Images.Where(i => i.IsPushed))
        {
            Assert.True(run.App.ResourceNotifications.TryGetCurrentState(image.ResourceName, out var state));
            var properties = state.Snapshot.Properties.ToDictionary(p => p.Name, p => p.Value);
            Assert.Equal(DockerRegistryImageStates.Pushed, state.Snapshot.State?.Text);
            Assert.Equal("RegistryImage", state.Snapshot.ResourceType);
            Assert.StartsWith(run.Registry.Name + "-", (string)properties["resource.parentName"]!); // DCP suffixes the name
            Assert.Equal(image.GetReference(run.Registry.RegistryUrl!), properties["image.reference"]);
            Assert.Equal(image.Digest, properties["image.digest"]);
        }
    }

    [Fact]
    public async Task AnImagesLogIsHoistsOutput()
    {
        var lines = await AppHostRun.GetLogsAsync(run.App, Child(run.Image("examples/app:1.0")));

        Assert.Contains(lines, l => l.StartsWith("hoist build -t ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("pushing " + run.Image("examples/app:1.0").GetReference(run.Registry.RegistryUrl!)));
        Assert.Contains(lines, l => l.StartsWith("built sha256:", StringComparison.Ordinal));
    }

    private DockerRegistryImageResource Child(DockerRegistryImageAnnotation image) =>
        run.App.Services.GetRequiredService<DistributedApplicationModel>().Resources.OfType<DockerRegistryImageResource>()
            .Single(r => r.Image == image);

    [Fact]
    public void AConsumerGetsTheRegistryAndTheDockerHost()
    {
        var lines = File.ReadAllLines(run.ConsumerOutput);

        Assert.Equal(run.Registry.RegistryUrl, lines[0]);
        Assert.Matches(@"^tcp://127\.0\.0\.1:\d+$", lines[1]);
        Assert.Equal(run.Registry.RegistryUrl, lines[2]);
    }

    [Fact]
    public async Task TheDockerApiAnswersPingAtDockerHost()
    {
        var dockerHost = await run.DockerApi.DockerHost.GetValueAsync(default);
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        using var response = await http.GetAsync(dockerHost!.Replace("tcp://", "http://", StringComparison.Ordinal) + "/_ping");

        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("OK", await response.Content.ReadAsStringAsync());
        Assert.Equal(dockerHost, File.ReadAllLines(run.ConsumerOutput)[1]);
    }

    [Fact]
    public void TheConsumerStartedAfterTheImagesWerePushed()
    {
        var written = File.GetLastWriteTimeUtc(run.ConsumerOutput);

        Assert.All(run.Registry.Images, i => Assert.True(i.FinishedAt!.Value.UtcDateTime <= written,
            $"{i.Key} finished at {i.FinishedAt:O}, after the consumer ran at {written:O}"));
    }
}
