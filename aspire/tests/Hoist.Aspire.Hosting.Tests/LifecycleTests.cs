using System.Reflection;
using System.Reflection.Emit;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.Configuration;

namespace Hoist.Aspire.Hosting.Tests;

/// <summary>Restarts, registry start retries and the hoist check, each a real app host run.</summary>
[Collection(AppHostCollection.Name)]
public sealed class LifecycleTests
{
    [Fact]
    public async Task AfterARestartNothingIsRebuiltAndTheImagesAreStillThere()
    {
        var directory = TestEnvironment.NewDirectory("restart");
        var first = await RunAsync(directory);
        var tagLink = Path.Combine(first.StorageDirectory, "docker", "registry", "v2", "repositories", "examples", "app",
            "_manifests", "tags", "1.0", "current", "link");
        Assert.True(File.Exists(tagLink), "the first run's tag is in the storage directory");

        var second = await RunAsync(directory);

        Assert.Equal(first.StorageDirectory, second.StorageDirectory);
        Assert.All(second.Images, i => Assert.True(i.IsPushed, i.Error));
        Assert.Equal(first.Images.Select(i => i.Digest), second.Images.Select(i => i.Digest));
        var app = second.Images.Single(i => i.ImageName == "app");
        Assert.StartsWith("0 step(s) run, ", app.BuildSummary);
        Assert.Equal($"{File.ReadAllText(tagLink).Trim()}", app.Digest);

        static async Task<DockerRegistryResource> RunAsync(string directory)
        {
            var builder = AppHostRun.Create(directory);
            var registry = builder.AddDockerRegistry("registry", volumeName: "restart-data");
            registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library", sourceImage: $"oci:{TestEnvironment.BaseLayout}");
            registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples", dockerfileContext: TestEnvironment.ExampleApp,
                tag: "1.0", target: "runtime", buildArgs: new Dictionary<string, string> { ["BASE"] = "${REGISTRY}/library/busybox:latest" },
                dependsOn: ["busybox"]);
            await using var app = await builder.BuildAsync();
            await app.StartAsync();
            await AppHostRun.WaitForImagesAsync(app, registry.Resource);
            foreach (var image in registry.Resource.Images.Where(i => i.IsPushed))
            {
                var (header, _) = await AppHostRun.GetManifestDigestAsync(registry.Resource.RegistryUrl!, image.Repository, image.Tag);
                Assert.Equal(header, image.Digest);
            }
            await app.StopAsync();
            return registry.Resource;
        }
    }

    [Fact]
    public async Task ARegistryThatEndsBeforeItIsHealthyIsStartedAgain()
    {
        var (builder, registry, storage) = RegistryOnAFile(maxRetries: 3, backoff: TimeSpan.FromSeconds(1));
        await using var app = await builder.BuildAsync();
        using var cts = new CancellationTokenSource(AppHostRun.Timeout);

        await app.StartAsync(cts.Token);
        await app.ResourceNotifications.WaitForResourceAsync(registry.Resource.Name,
            e => e.Snapshot.State?.Text is "Exited" or "Finished" or "FailedToStart", cts.Token);
        File.Delete(storage);
        await app.ResourceNotifications.WaitForResourceHealthyAsync(registry.Resource.Name, WaitBehavior.WaitOnResourceUnavailable, cts.Token);
        await AppHostRun.WaitForImagesAsync(app, registry.Resource);

        Assert.True(registry.Resource.Images[0].IsPushed, registry.Resource.Images[0].Error);
        Assert.Contains(await AppHostRun.GetLogsAsync(app, registry.Resource), l => l.Contains("starting it again in 1 s (retry 1 of 3)"));
        await app.StopAsync();
    }

    [Fact]
    public async Task ARegistryThatNeverStartsFailsItsImages()
    {
        var (builder, registry, _) = RegistryOnAFile(maxRetries: 2, backoff: TimeSpan.FromMilliseconds(200));
        await using var app = await builder.BuildAsync();

        await app.StartAsync();
        await AppHostRun.WaitForImagesAsync(app, registry.Resource);

        var image = registry.Resource.Images[0];
        Assert.False(image.IsPushed);
        Assert.Equal(DockerRegistryImageStates.Failed, image.State);
        Assert.Equal("the registry registry did not start", image.Error);
        var logs = await AppHostRun.GetLogsAsync(app, registry.Resource);
        Assert.Contains(logs, l => l.Contains("(retry 2 of 2)"));
        Assert.Contains(logs, l => l.Contains("the registry did not start after 3 attempts"));
        await app.StopAsync();
    }

    // An app host whose one import fails `failures` times (a FlakyStrategy),
    // run until its image job ends; the image and the strategy's calls.
    private static async Task<(DockerRegistryImageAnnotation Image, FlakyStrategy Flaky)> RunFlakyImportAsync(
        int failures, int maxRetries, TimeSpan backoff)
    {
        var builder = AppHostRun.Create(TestEnvironment.NewDirectory("flaky"));
        var flaky = new FlakyStrategy(failures: failures);
        var registry = builder.AddDockerRegistry("registry").WithImageBuildOptions(maxRetries: maxRetries, backoff: backoff);
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library", sourceImage: $"oci:{TestEnvironment.BaseLayout}",
            buildStrategy: flaky);
        await using var app = await builder.BuildAsync();
        await app.StartAsync();
        await AppHostRun.WaitForImagesAsync(app, registry.Resource);
        await app.StopAsync();
        return (registry.Resource.Images[0], flaky);
    }

    [Fact]
    public async Task ARetryableFailureIsRetriedWithBackoffUntilThePushWorks()
    {
        var (image, flaky) = await RunFlakyImportAsync(failures: 2, maxRetries: 3, TimeSpan.FromMilliseconds(300));
        Assert.True(image.IsPushed, image.Error);
        Assert.Equal(3, image.Attempts);
        Assert.Equal(3, flaky.Calls.Count);
        var gaps = flaky.Calls.Zip(flaky.Calls.Skip(1), (a, b) => b - a).ToList();
        Assert.True(gaps[0] >= TimeSpan.FromMilliseconds(280), $"first retry after {gaps[0]}");
        Assert.True(gaps[1] >= TimeSpan.FromMilliseconds(580), $"second retry after {gaps[1]} (the backoff doubles)");
    }

    [Fact]
    public async Task RetriesEndAfterMaxRetries()
    {
        var (image, flaky) = await RunFlakyImportAsync(failures: 10, maxRetries: 2, TimeSpan.FromMilliseconds(100));
        Assert.False(image.IsPushed);
        Assert.Equal("push refused (attempt 3)", image.Error);
        Assert.Equal(3, flaky.Calls.Count);
    }

    [Fact]
    public async Task AMissingHoistIsAClearErrorAtStart()
    {
        var missing = Path.Combine(TestEnvironment.NewDirectory("missing"), "hoist");

        var ex = await StartWithHoistAsync(missing);

        Assert.Contains($"HOIST_PATH names '{missing}', which does not exist", ex.Message);
    }

    [Fact]
    public async Task ATooOldHoistIsAClearErrorAtStart()
    {
        var old = Script("old", "echo 'hoist 0.1.9'");

        var ex = await StartWithHoistAsync(old);

        Assert.Equal($"hoist 0.1.9 at '{old}' (from HOIST_PATH) is too old: this integration needs hoist 0.2.0 or newer.", ex.Message);
    }

    [Fact]
    public async Task ABinaryThatIsNotHoistIsAClearErrorAtStart()
    {
        var other = Script("other", "echo 'something else'; exit 3");

        var ex = await StartWithHoistAsync(other);

        Assert.Contains("did not print 'hoist X.Y.Z' (exit code 3): something else", ex.Message);
    }

    [Fact]
    public async Task TheHoistUnderTestPassesTheCheck()
    {
        var hoist = await HoistTool.ResolveAsync(TestEnvironment.HoistPath);

        Assert.Equal(TestEnvironment.HoistPath, hoist.Path);
        Assert.True(hoist.Version >= HoistTool.MinimumVersion);
    }

    [Fact]
    public void HoistIsTakenFromTheSettingThenTheMsBuildPropertyThenPath()
    {
        var configured = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["HOIST_PATH"] = "/opt/a/hoist" }).Build();
        var unconfigured = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["HOIST_PATH"] = "" }).Build();
        var stamped = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("StampedAppHost"), AssemblyBuilderAccess.Run,
            [new CustomAttributeBuilder(typeof(AssemblyMetadataAttribute).GetConstructor([typeof(string), typeof(string)])!, ["HoistPath", "/opt/b/hoist"])]);

        Assert.Equal(("/opt/a/hoist", "HOIST_PATH"), HoistTool.Locate(configured, stamped));
        Assert.Equal(("/opt/b/hoist", "the HoistPath MSBuild property"), HoistTool.Locate(unconfigured, stamped));
        Assert.Equal("PATH", HoistTool.Locate(unconfigured, typeof(LifecycleTests).Assembly).Source);
    }

    // A registry whose storage directory is a file, so it exits at once, with one image.
    private static (IDistributedApplicationTestingBuilder Builder, IResourceBuilder<DockerRegistryResource> Registry, string Storage)
        RegistryOnAFile(int maxRetries, TimeSpan backoff)
    {
        var directory = TestEnvironment.NewDirectory("blocked");
        var storage = Path.Combine(directory, "storage");
        File.WriteAllText(storage, "a file where the storage directory should be");
        var builder = AppHostRun.Create(directory);
        var registry = builder.AddDockerRegistry("registry")
            .WithStorageDirectory(storage)
            .WithImageBuildOptions(maxRetries: maxRetries, backoff: backoff);
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library", sourceImage: $"oci:{TestEnvironment.BaseLayout}");
        return (builder, registry, storage);
    }

    private static async Task<DistributedApplicationException> StartWithHoistAsync(string hoist)
    {
        var builder = AppHostRun.Create(TestEnvironment.NewDirectory("check"));
        builder.Configuration["HOIST_PATH"] = hoist;
        var registry = builder.AddDockerRegistry("registry");
        Assert.Equal(hoist, registry.Resource.Command);
        await using var app = await builder.BuildAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var ex = await Record.ExceptionAsync(() => app.StartAsync(cts.Token));

        Assert.False(cts.IsCancellationRequested, "the start hung instead of failing");
        for (var inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is DistributedApplicationException found)
            {
                return found;
            }
        }
        throw new Xunit.Sdk.XunitException($"expected a DistributedApplicationException, got {ex}");
    }

    // Fails the first `failures` calls as a refused push would, then imports for real.
    private sealed class FlakyStrategy(int failures) : IImageBuildStrategy
    {
        public List<TimeSpan> Calls { get; } = [];

        private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

        public Task BuildAsync(DockerRegistryImageAnnotation annotation, string registryUrl) =>
            throw new InvalidOperationException("the integration calls the context overload");

        public Task BuildAsync(ImageBuildContext context)
        {
            lock (Calls)
            {
                Calls.Add(_clock.Elapsed);
                if (Calls.Count <= failures)
                {
                    throw new ImageBuildException($"push refused (attempt {Calls.Count})", retryable: true);
                }
            }
            return new ImageImportStrategy().BuildAsync(context);
        }
    }

    private static string Script(string name, string body)
    {
        var path = Path.Combine(TestEnvironment.NewDirectory(name), "hoist");
        File.WriteAllText(path, $"#!/bin/sh\n{body}\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return path;
    }
}
