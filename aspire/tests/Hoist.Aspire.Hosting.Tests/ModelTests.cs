using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;

namespace Hoist.Aspire.Hosting.Tests;

/// <summary>The app model the calls build, without running it.</summary>
public class ModelTests
{
    private readonly string _appHostDirectory = TestEnvironment.NewDirectory("model");

    private IDistributedApplicationBuilder CreateBuilder() =>
        DistributedApplication.CreateBuilder(new DistributedApplicationOptions
        {
            Args = [],
            ProjectDirectory = _appHostDirectory,
            DisableDashboard = true,
        });

    [Fact]
    public void AddDockerRegistryIsAnExecutableRunningHoist()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");

        var resource = Assert.Single(builder.Resources.OfType<DockerRegistryResource>());
        Assert.Same(registry.Resource, resource);
        Assert.IsAssignableFrom<ExecutableResource>(resource);
        Assert.Equal(TestEnvironment.HoistPath, resource.Command);
        Assert.Equal(Path.Combine(_appHostDirectory, ".hoist", "local-registry"), resource.StorageDirectory);
        Assert.True(resource.TryGetAnnotationsOfType<ManifestPublishingCallbackAnnotation>(out _), "excluded from the manifest");
    }

    [Fact]
    public void TheVolumeNamesTheStorageDirectory()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry", volumeName: "registry-data");

        Assert.Equal(Path.Combine(_appHostDirectory, ".hoist", "registry-data"), registry.Resource.StorageDirectory);
    }

    [Fact]
    public void WithStorageDirectoryResolvesAgainstTheAppHostFolder()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry").WithStorageDirectory("../shared/registry");

        Assert.Equal(Path.GetFullPath(Path.Combine(_appHostDirectory, "../shared/registry")), registry.Resource.StorageDirectory);
    }

    [Fact]
    public void TheHttpEndpointIsAllocatedByAspire()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");

        var endpoint = Assert.Single(registry.Resource.Annotations.OfType<EndpointAnnotation>());
        Assert.Equal("http", endpoint.Name);
        Assert.Equal("http", endpoint.UriScheme);
        Assert.Null(endpoint.Port);
        Assert.Null(endpoint.TargetPort);
        Assert.True(endpoint.IsProxied);
    }

    [Fact]
    public async Task TheArgumentsServeOnTheAllocatedPortFromTheStorageDirectory()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");
        Allocate(registry.Resource, port: 41234, targetPort: 41235);

        var args = await EvaluateArgumentsAsync(registry.Resource);

        Assert.Equal(["registry", "serve", "--addr", "127.0.0.1:41235", "--root", registry.Resource.StorageDirectory], args);
    }

    [Fact]
    public async Task TheConnectionStringIsTheRegistryHostAndPort()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");
        Allocate(registry.Resource, port: 41234, targetPort: 41235);

        Assert.Equal("127.0.0.1:41234", await registry.Resource.ConnectionStringExpression.GetValueAsync(default));
        Assert.Equal("127.0.0.1:41234", await ((IResourceWithConnectionString)registry.Resource).GetConnectionStringAsync());
    }

    [Fact]
    public void TheRegistryHasAHealthCheck()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");

        var check = Assert.Single(registry.Resource.Annotations.OfType<HealthCheckAnnotation>());
        using var services = builder.Services.BuildServiceProvider();
        var options = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckServiceOptions>>();
        Assert.Contains(options.Value.Registrations, r => r.Name == check.Key);
    }

    [Fact]
    public void WithRegistryDockerfileRecordsTheImageAndAddsAChildResource()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");
        registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "your/custom/image/prefix",
            dockerfileContext: TestEnvironment.ExampleApp, tag: "1.0",
            buildArgs: new Dictionary<string, string> { ["BASE"] = "${REGISTRY}/library/busybox:latest" },
            target: "runtime", platform: "linux/amd64");

        var image = Assert.Single(registry.Resource.Images);
        Assert.Equal("app", image.ImageName);
        Assert.Equal("your/custom/image/prefix", image.ImageNamePrefix);
        Assert.Equal("1.0", image.Tag);
        Assert.Equal(TestEnvironment.ExampleApp, image.DockerfileContext);
        Assert.Null(image.DockerfilePath);
        Assert.Null(image.SourceImage);
        Assert.Equal("${REGISTRY}/library/busybox:latest", image.BuildArgs["BASE"]);
        Assert.Equal("runtime", image.Target);
        Assert.Equal("linux/amd64", image.Platform);
        Assert.False(image.IsPushed);
        Assert.Null(image.Digest);
        Assert.Equal("127.0.0.1:5000/your/custom/image/prefix/app:1.0", image.GetReference("127.0.0.1:5000"));

        var child = Assert.Single(builder.Resources.OfType<DockerRegistryImageResource>());
        Assert.Same(registry.Resource, child.Parent);
        Assert.Same(image, child.Image);
        Assert.Equal(image.ResourceName, child.Name);
        Assert.Equal("local-registry-app", child.Name);
        var initial = Assert.Single(child.Annotations.OfType<ResourceSnapshotAnnotation>()).InitialSnapshot;
        Assert.Equal(DockerRegistryImageStates.Waiting, initial.State?.Text);
        Assert.Contains(initial.Properties, p => p.Name == "image.repository" && (string)p.Value! == "your/custom/image/prefix/app");
    }

    [Fact]
    public void WithRegistryImageRecordsTheSourceAndResolvesLocalLayouts()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");
        registry.WithRegistryImage(imageName: "redis", imageNamePrefix: "your/custom/image/prefix", sourceImage: "redis:alpine", tag: "custom");
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library", sourceImage: "oci:../base:latest");

        Assert.Equal("redis:alpine", registry.Resource.Images[0].SourceImage);
        Assert.Equal("custom", registry.Resource.Images[0].Tag);
        Assert.Null(registry.Resource.Images[0].DockerfileContext);
        Assert.Equal($"oci:{Path.GetFullPath(Path.Combine(_appHostDirectory, "../base"))}:latest", registry.Resource.Images[1].SourceImage);
        Assert.Equal("latest", registry.Resource.Images[1].Tag);
        Assert.Equal(2, builder.Resources.OfType<DockerRegistryImageResource>().Count());
    }

    [Fact]
    public void ImagesWithOneNameGetDistinctChildResources()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library", sourceImage: "busybox:latest");
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "mirror", sourceImage: "busybox:latest", tag: "v1.0_b");
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "other", sourceImage: "busybox:latest", tag: "v1.0_b");

        Assert.Equal(["local-registry-busybox", "local-registry-busybox-v1-0-b", "local-registry-busybox-v1-0-b-2"],
            registry.Resource.Images.Select(i => i.ResourceName));
    }

    [Fact]
    public void DependsOnNamesEarlierImagesByNameRepositoryOrKey()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library", sourceImage: "busybox:latest");
        registry.WithRegistryDockerfile(imageName: "web", imageNamePrefix: "examples", dockerfileContext: TestEnvironment.ExampleWeb,
            dependsOn: ["busybox"]);
        registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples", dockerfileContext: TestEnvironment.ExampleApp,
            dependsOn: ["library/busybox", "examples/web:latest"]);

        Assert.Equal(["library/busybox:latest"], registry.Resource.Images[1].DependsOn);
        Assert.Equal(["library/busybox:latest", "examples/web:latest"], registry.Resource.Images[2].DependsOn);
    }

    [Fact]
    public void DependsOnAnUndeclaredImageThrows()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");

        var ex = Assert.Throws<ArgumentException>(() => registry.WithRegistryDockerfile(imageName: "web", imageNamePrefix: "examples",
            dockerfileContext: TestEnvironment.ExampleWeb, dependsOn: ["busybox"]));
        Assert.Equal("dependsOn", ex.ParamName);
        Assert.Contains("declare it first", ex.Message);
    }

    [Fact]
    public void DependsOnAnAmbiguousNameThrows()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library", sourceImage: "busybox:latest");
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "mirror", sourceImage: "busybox:latest");

        var ex = Assert.Throws<ArgumentException>(() => registry.WithRegistryImage(imageName: "copy", imageNamePrefix: "x",
            sourceImage: "busybox:latest", dependsOn: ["busybox"]));
        Assert.Contains("library/busybox:latest, mirror/busybox:latest", ex.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("App")]
    [InlineData("my app")]
    [InlineData("a/b")]
    [InlineData("-app")]
    [InlineData("app-")]
    [InlineData("app.")]
    [InlineData("a..b")]
    [InlineData("a___b")]
    [InlineData("a_.b")]
    public void AnImageNameOutsideTheDistributionGrammarThrows(string imageName)
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");

        var ex = Assert.ThrowsAny<ArgumentException>(() => registry.WithRegistryImage(imageName: imageName,
            imageNamePrefix: "library", sourceImage: "busybox:latest"));
        Assert.Equal("imageName", ex.ParamName);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("a.b")]
    [InlineData("a_b")]
    [InlineData("a__b")]
    [InlineData("a-b")]
    [InlineData("a---b")]
    [InlineData("0x")]
    public void ImageNamesInTheDistributionGrammarAreAccepted(string imageName)
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");

        registry.WithRegistryImage(imageName: imageName, imageNamePrefix: "library", sourceImage: "busybox:latest");

        Assert.Equal(imageName, Assert.Single(registry.Resource.Images).ImageName);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("Your/Prefix", "'Your' must match")]
    [InlineData("your//prefix", "empty component")]
    [InlineData("/your/prefix", "empty component")]
    [InlineData("your/prefix/", "empty component")]
    [InlineData("your/pre fix", "'pre fix' must match")]
    [InlineData("your/-prefix", "'-prefix' must match")]
    public void AnImageNamePrefixOutsideTheDistributionGrammarThrows(string prefix, string message)
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");

        var ex = Assert.ThrowsAny<ArgumentException>(() => registry.WithRegistryDockerfile(imageName: "app",
            imageNamePrefix: prefix, dockerfileContext: TestEnvironment.ExampleApp));
        Assert.Equal("imageNamePrefix", ex.ParamName);
        Assert.Contains(message, ex.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData(".hidden")]
    [InlineData("-x")]
    [InlineData("a:b")]
    [InlineData("a/b")]
    public void AnInvalidTagThrows(string tag)
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");

        var ex = Assert.ThrowsAny<ArgumentException>(() => registry.WithRegistryImage(imageName: "app", imageNamePrefix: "library",
            sourceImage: "busybox:latest", tag: tag));
        Assert.Equal("tag", ex.ParamName);
    }

    [Fact]
    public void ATagOf129CharactersThrows()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");

        Assert.Throws<ArgumentException>("tag", () => registry.WithRegistryImage(imageName: "app", imageNamePrefix: "library",
            sourceImage: "busybox:latest", tag: new string('a', 129)));
        registry.WithRegistryImage(imageName: "app", imageNamePrefix: "library", sourceImage: "busybox:latest", tag: new string('a', 128));
    }

    [Fact]
    public void AMissingContextThrowsAtDeclaration()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");

        var ex = Assert.Throws<ArgumentException>(() => registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples",
            dockerfileContext: "../../mcp/mcp_terminal"));
        Assert.Equal("dockerfileContext", ex.ParamName);
        Assert.Contains("does not exist", ex.Message);
        Assert.Empty(registry.Resource.Images);
    }

    [Fact]
    public void AContextWithoutADockerfileThrowsAtDeclaration()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");
        var context = TestEnvironment.NewDirectory("no-dockerfile");

        var ex = Assert.Throws<ArgumentException>(() => registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples",
            dockerfileContext: context));
        Assert.Contains("The Dockerfile 'Dockerfile' does not exist", ex.Message);

        ex = Assert.Throws<ArgumentException>(() => registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples",
            dockerfileContext: TestEnvironment.ExampleApp, dockerfilePath: "Containerfile"));
        Assert.Equal("dockerfilePath", ex.ParamName);
    }

    [Fact]
    public void ADockerfilePathIsRelativeToTheContext()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");
        var context = TestEnvironment.NewDirectory("containerfile");
        File.WriteAllText(Path.Combine(context, "Containerfile"), "FROM scratch\n");

        registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples", dockerfileContext: context, dockerfilePath: "Containerfile");

        Assert.Equal(Path.Combine(context, "Containerfile"), Assert.Single(registry.Resource.Images).DockerfilePath);
    }

    [Fact]
    public void TwoImagesWithOneReferenceThrow()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");
        registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library", sourceImage: "busybox:latest");

        var ex = Assert.Throws<ArgumentException>(() => registry.WithRegistryDockerfile(imageName: "busybox", imageNamePrefix: "library",
            dockerfileContext: TestEnvironment.ExampleWeb));
        Assert.Contains("already has an image library/busybox:latest", ex.Message);
    }

    [Theory]
    [InlineData("linux")]
    [InlineData("linux/amd64,")]
    [InlineData("Linux/AMD64")]
    public void AnInvalidPlatformThrows(string platform)
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");

        Assert.Throws<ArgumentException>("platform", () => registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples",
            dockerfileContext: TestEnvironment.ExampleApp, platform: platform));
    }

    [Fact]
    public void ABuildArgumentWithoutANameThrows()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");

        Assert.Throws<ArgumentException>("buildArgs", () => registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples",
            dockerfileContext: TestEnvironment.ExampleApp, buildArgs: new Dictionary<string, string> { ["A=B"] = "c" }));
    }

    [Fact]
    public void EmptyNamesAndSourcesThrow()
    {
        var builder = CreateBuilder();
        var empty = "";
        Assert.ThrowsAny<ArgumentException>(() => builder.AddDockerRegistry(empty));
        Assert.Throws<ArgumentException>("volumeName", () => builder.AddDockerRegistry("r", volumeName: "../up"));
        var registry = builder.AddDockerRegistry("local-registry");
        Assert.ThrowsAny<ArgumentException>(() => registry.WithRegistryImage(imageName: "app", imageNamePrefix: "x", sourceImage: ""));
        Assert.ThrowsAny<ArgumentException>(() => registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "x", dockerfileContext: ""));
    }

    [Fact]
    public void WithImageBuildStrategySetsTheRegistrysStrategy()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");
        var first = new RecordingStrategy();
        var second = new RecordingStrategy();

        registry.WithImageBuildStrategy(first).WithImageBuildStrategy(second);

        Assert.Same(second, Assert.Single(registry.Resource.Annotations.OfType<ImageBuildStrategyAnnotation>()).Strategy);
    }

    [Fact]
    public void WithImageBuildOptionsSetsParallelismAndRetries()
    {
        var registry = CreateBuilder().AddDockerRegistry("local-registry");
        Assert.Equal(3, registry.Resource.MaxParallelImageJobs);

        registry.WithImageBuildOptions(maxParallel: 2, maxRetries: 5, backoff: TimeSpan.FromMilliseconds(200));

        Assert.Equal(2, registry.Resource.MaxParallelImageJobs);
        Assert.Equal(5, registry.Resource.MaxRetries);
        Assert.Equal(TimeSpan.FromMilliseconds(200), registry.Resource.RetryBackoff);
        Assert.Throws<ArgumentOutOfRangeException>(() => registry.WithImageBuildOptions(maxParallel: 0));
    }

    [Fact]
    public async Task AddDockerApiResourceRunsHoistEngineAgainstTheRegistry()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");
        var api = builder.AddDockerApiResource(registry);
        Allocate(registry.Resource, port: 41234, targetPort: 41235);
        Allocate(api.Resource, port: 42345, targetPort: 42346);

        Assert.Equal("local-registry-docker-api", api.Resource.Name);
        Assert.Equal(TestEnvironment.HoistPath, api.Resource.Command);
        Assert.Same(registry.Resource, api.Resource.Registry);
        Assert.Equal(["engine", "--addr", "127.0.0.1:42346", "--registry", "127.0.0.1:41234"], await EvaluateArgumentsAsync(api.Resource));
        Assert.Equal("http", Assert.Single(api.Resource.Annotations.OfType<EndpointAnnotation>()).Name);
        Assert.Single(api.Resource.Annotations.OfType<HealthCheckAnnotation>());
        Assert.Contains(api.Resource.Annotations.OfType<WaitAnnotation>(), w => w.Resource == registry.Resource);
        Assert.Contains(api.Resource.Annotations.OfType<ResourceRelationshipAnnotation>(), r => r.Resource == registry.Resource);
        Assert.Equal("tcp://127.0.0.1:42345", await api.Resource.ConnectionStringExpression.GetValueAsync(default));
    }

    [Fact]
    public async Task WithReferenceGivesRegistryAndDockerHost()
    {
        var builder = CreateBuilder();
        var registry = builder.AddDockerRegistry("local-registry");
        var api = builder.AddDockerApiResource(registry, name: "docker");
        var consumer = builder.AddExecutable("consumer", "sh", ".").WithReference(registry).WithReference(api);
        Allocate(registry.Resource, port: 41234, targetPort: 41235);
        Allocate(api.Resource, port: 42345, targetPort: 42346);

        var environment = await EvaluateEnvironmentAsync(consumer.Resource);

        Assert.Equal("127.0.0.1:41234", environment["REGISTRY"]);
        Assert.Equal("127.0.0.1:41234", environment["ConnectionStrings__local-registry"]);
        Assert.Equal("tcp://127.0.0.1:42345", environment["DOCKER_HOST"]);
        Assert.Contains(consumer.Resource.Annotations.OfType<ResourceRelationshipAnnotation>(), r => r.Resource == registry.Resource);
    }

    internal static void Allocate(IResourceWithEndpoints resource, int port, int targetPort)
    {
        var endpoint = resource.Annotations.OfType<EndpointAnnotation>().Single();
        endpoint.AllocatedEndpoint = new AllocatedEndpoint(endpoint, "localhost", port,
            targetPortExpression: targetPort.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task<List<string>> EvaluateArgumentsAsync(IResource resource)
    {
        var args = new List<object>();
        var context = new CommandLineArgsCallbackContext(args, resource, CancellationToken.None);
        foreach (var callback in resource.Annotations.OfType<CommandLineArgsCallbackAnnotation>())
        {
            await callback.Callback(context);
        }
        var values = new List<string>();
        foreach (var arg in args)
        {
            values.Add(arg switch
            {
                string s => s,
                IValueProvider provider => await provider.GetValueAsync(default) ?? "",
                _ => arg.ToString() ?? "",
            });
        }
        return values;
    }

    private static async Task<Dictionary<string, string>> EvaluateEnvironmentAsync(IResource resource)
    {
        var variables = new Dictionary<string, object>();
        var context = new EnvironmentCallbackContext(new DistributedApplicationExecutionContext(DistributedApplicationOperation.Run),
            resource, variables, CancellationToken.None);
        foreach (var callback in resource.Annotations.OfType<EnvironmentCallbackAnnotation>())
        {
            await callback.Callback(context);
        }
        var values = new Dictionary<string, string>();
        foreach (var (key, value) in variables)
        {
            values[key] = value switch
            {
                string s => s,
                IValueProvider provider => await provider.GetValueAsync(default) ?? "",
                _ => value.ToString() ?? "",
            };
        }
        return values;
    }
}
