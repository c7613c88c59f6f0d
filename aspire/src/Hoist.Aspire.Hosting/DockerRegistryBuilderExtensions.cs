using System.Text.RegularExpressions;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Hoist;

namespace Aspire.Hosting;

/// <summary>
/// Adds a local OCI registry run by hoist, the images it should hold, and a Docker Engine
/// API over them to the application model. No Docker daemon and no root are needed.
/// </summary>
public static partial class DockerRegistryBuilderExtensions
{
    private const string RegistryVariable = "REGISTRY";
    private const string DockerHostVariable = "DOCKER_HOST";

    /// <summary>
    /// Adds a local OCI registry, run as <c>hoist registry serve</c>, to the application model.
    /// </summary>
    /// <param name="builder">The <see cref="IDistributedApplicationBuilder"/>.</param>
    /// <param name="name">The name of the resource; also the connection string name when it is referenced.</param>
    /// <param name="volumeName">
    /// The name of the registry's storage, a directory under <c>.hoist/</c> in the app host's
    /// folder that outlives the app host; <see langword="null"/>: <paramref name="name"/>.
    /// </param>
    /// <returns>A reference to the <see cref="IResourceBuilder{T}"/>.</returns>
    /// <remarks>
    /// <para>
    /// The registry listens on <c>127.0.0.1</c> on a port Aspire allocates (endpoint <c>http</c>),
    /// needs no authentication, and is healthy once <c>GET /v2/</c> answers 200. If it ends
    /// before it was healthy once, it is started again after 1 s, 2 s and 4 s. Once it is
    /// healthy, the images declared with
    /// <see cref="WithRegistryDockerfile"/> and <see cref="WithRegistryImage"/> are built or
    /// imported and pushed, at most three at once; a resource that waits for the registry
    /// (<c>WaitFor</c>) starts after that. Each image is a child resource of the registry
    /// in the dashboard, with its own state and log.
    /// </para>
    /// <para>
    /// hoist (0.2.0 or newer) is taken from <c>HOIST_PATH</c> (environment or configuration),
    /// the <c>HoistPath</c> MSBuild property, or <c>PATH</c>; a missing or too old hoist stops
    /// the app host at start with an error that says so.
    /// </para>
    /// <example>
    /// <code lang="csharp">
    /// var registry = builder.AddDockerRegistry("local-registry");
    /// registry.WithRegistryImage(imageName: "busybox", imageNamePrefix: "library",
    ///     sourceImage: "oci:base", tag: "latest");
    /// registry.WithRegistryDockerfile(imageName: "app", imageNamePrefix: "examples",
    ///     dockerfileContext: "../app", tag: "1.0",
    ///     buildArgs: new Dictionary&lt;string, string&gt; { ["BASE"] = "${REGISTRY}/library/busybox:latest" },
    ///     dependsOn: ["busybox"]);
    /// var dockerApi = builder.AddDockerApiResource(registry);
    /// builder.AddProject&lt;Projects.Api&gt;("api").WithReference(registry).WithReference(dockerApi).WaitFor(registry);
    /// </code>
    /// </example>
    /// </remarks>
    public static IResourceBuilder<DockerRegistryResource> AddDockerRegistry(
        this IDistributedApplicationBuilder builder,
        [ResourceName] string name,
        string? volumeName = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (volumeName is not null)
        {
            ImageNames.ThrowIfNotVolumeName(volumeName, nameof(volumeName));
        }

        var storage = Path.Combine(builder.AppHostDirectory, ".hoist", volumeName ?? name);
        var (hoistPath, hoistSource) = HoistTool.Locate(builder.Configuration, builder.AppHostAssembly);
        var registry = new DockerRegistryResource(name, hoistPath ?? "hoist", builder.AppHostDirectory, storage);
        RegistryLifecycle.Subscribe(builder, registry, hoistPath, hoistSource);

        return builder.AddResource(registry)
            .WithHttpEndpoint(name: DockerRegistryResource.PrimaryEndpointName)
            .WithArgs(context =>
            {
                context.Args.Add("registry");
                context.Args.Add("serve");
                context.Args.Add("--addr");
                context.Args.Add(ReferenceExpression.Create(
                    $"127.0.0.1:{registry.PrimaryEndpoint.Property(EndpointProperty.TargetPort)}"));
                context.Args.Add("--root");
                context.Args.Add(registry.StorageDirectory);
            })
            .WithHttpHealthCheck("/v2/", endpointName: DockerRegistryResource.PrimaryEndpointName)
            .WithIconName("BoxMultiple")
            .ExcludeFromManifest();
    }

    /// <summary>
    /// Declares an image built from a Dockerfile (<c>hoist build</c>, rootless) and pushed to
    /// the registry as <c>host:port/imageNamePrefix/imageName:tag</c>.
    /// </summary>
    /// <param name="builder">The registry.</param>
    /// <param name="imageName">The repository's last path component, e.g. <c>app</c>.</param>
    /// <param name="imageNamePrefix">The repository path before it, e.g. <c>your/custom/prefix</c>.</param>
    /// <param name="dockerfileContext">The build context, relative to the app host's folder (or absolute, or a git URL).</param>
    /// <param name="tag">The tag.</param>
    /// <param name="dockerfilePath">The Dockerfile, relative to the context; <see langword="null"/>: <c>Dockerfile</c>.</param>
    /// <param name="buildArgs">Build arguments; <c>${REGISTRY}</c> in a value is the registry's <c>host:port</c>.</param>
    /// <param name="target">The stage to build; <see langword="null"/>: the last.</param>
    /// <param name="platform">The platform(s), e.g. <c>linux/amd64</c> or <c>linux/amd64,linux/arm64</c> (an image index).</param>
    /// <param name="dependsOn">
    /// Images of this registry (by name, <c>prefix/name</c> or <c>prefix/name:tag</c>), declared
    /// before this one, that must be pushed before it is built: a base image it is built <c>FROM</c>.
    /// </param>
    /// <param name="buildStrategy">A strategy of your own for this image; <see langword="null"/>: the registry's, else <see cref="DockerfileBuildStrategy"/>.</param>
    /// <returns>The registry's builder, for chaining.</returns>
    /// <exception cref="ArgumentException">A name, tag, path or dependency is not valid; the message says which and why.</exception>
    public static IResourceBuilder<DockerRegistryResource> WithRegistryDockerfile(
        this IResourceBuilder<DockerRegistryResource> builder,
        string imageName,
        string imageNamePrefix,
        string dockerfileContext,
        string tag = "latest",
        string? dockerfilePath = null,
        IReadOnlyDictionary<string, string>? buildArgs = null,
        string? target = null,
        string? platform = null,
        IEnumerable<string>? dependsOn = null,
        IImageBuildStrategy? buildStrategy = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ValidateName(imageName, imageNamePrefix, tag);
        ArgumentException.ThrowIfNullOrEmpty(dockerfileContext);

        var appHostDirectory = builder.ApplicationBuilder.AppHostDirectory;
        string context;
        string? dockerfile = null;
        if (IsRemoteContext(dockerfileContext))
        {
            context = dockerfileContext;
            if (dockerfilePath is not null)
            {
                ArgumentException.ThrowIfNullOrEmpty(dockerfilePath);
                dockerfile = dockerfilePath;
            }
        }
        else
        {
            context = Path.GetFullPath(Path.Combine(appHostDirectory, dockerfileContext));
            if (!Directory.Exists(context) && !File.Exists(context))
            {
                throw new ArgumentException(
                    $"The Dockerfile context '{dockerfileContext}' does not exist (looked for '{context}'; relative paths start at the app host's folder).",
                    nameof(dockerfileContext));
            }
            if (dockerfilePath is not null)
            {
                ArgumentException.ThrowIfNullOrEmpty(dockerfilePath);
            }
            if (Directory.Exists(context))
            {
                var file = Path.GetFullPath(Path.Combine(context, dockerfilePath ?? "Dockerfile"));
                if (!File.Exists(file))
                {
                    throw new ArgumentException(
                        $"The Dockerfile '{dockerfilePath ?? "Dockerfile"}' does not exist in the context '{dockerfileContext}' (looked for '{file}').",
                        dockerfilePath is null ? nameof(dockerfileContext) : nameof(dockerfilePath));
                }
                dockerfile = dockerfilePath is null ? null : file;
            }
            else if (dockerfilePath is not null)
            {
                dockerfile = dockerfilePath;
            }
        }

        var args = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in buildArgs ?? new Dictionary<string, string>())
        {
            if (string.IsNullOrEmpty(key) || key.Contains('='))
            {
                throw new ArgumentException($"The build argument name '{key}' is not valid: it must be non-empty and contain no '='.", nameof(buildArgs));
            }
            ArgumentNullException.ThrowIfNull(value, nameof(buildArgs));
            args[key] = value;
        }
        if (target is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(target);
        }
        if (platform is not null && !PlatformList().IsMatch(platform))
        {
            throw new ArgumentException(
                $"The platform '{platform}' is not valid: write os/arch[/variant], several separated by commas (linux/amd64,linux/arm64).",
                nameof(platform));
        }

        return AddImage(builder, imageName, imageNamePrefix, tag, dependsOn, buildStrategy,
            context: context, dockerfile: dockerfile, buildArgs: args, target: target, platform: platform);
    }

    /// <summary>
    /// Declares an image imported from an existing one (<c>hoist copy</c>, blob by blob) and
    /// pushed to the registry as <c>host:port/imageNamePrefix/imageName:tag</c>.
    /// </summary>
    /// <param name="builder">The registry.</param>
    /// <param name="imageName">The repository's last path component, e.g. <c>redis</c>.</param>
    /// <param name="imageNamePrefix">The repository path before it, e.g. <c>your/custom/prefix</c>.</param>
    /// <param name="sourceImage">
    /// The image to import: a registry reference (<c>redis:alpine</c>), an OCI layout
    /// <c>oci:DIR[:TAG]</c>, <c>oci-archive:FILE[:TAG]</c> or <c>docker-archive:FILE</c> (paths
    /// relative to the app host's folder). <c>${REGISTRY}</c> is the registry's <c>host:port</c>.
    /// </param>
    /// <param name="tag">The tag.</param>
    /// <param name="dependsOn">Images of this registry, declared before this one, that must be pushed first.</param>
    /// <param name="buildStrategy">A strategy of your own for this image; <see langword="null"/>: the registry's, else <see cref="ImageImportStrategy"/>.</param>
    /// <returns>The registry's builder, for chaining.</returns>
    /// <exception cref="ArgumentException">A name, tag or dependency is not valid; the message says which and why.</exception>
    public static IResourceBuilder<DockerRegistryResource> WithRegistryImage(
        this IResourceBuilder<DockerRegistryResource> builder,
        string imageName,
        string imageNamePrefix,
        string sourceImage,
        string tag = "latest",
        IEnumerable<string>? dependsOn = null,
        IImageBuildStrategy? buildStrategy = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ValidateName(imageName, imageNamePrefix, tag);
        ArgumentException.ThrowIfNullOrWhiteSpace(sourceImage);

        var source = sourceImage;
        if (ImageImportStrategy.LocalPath(sourceImage) is { } path && !Path.IsPathRooted(path))
        {
            var transport = sourceImage[..(sourceImage.IndexOf(':') + 1)];
            var absolute = Path.GetFullPath(Path.Combine(builder.ApplicationBuilder.AppHostDirectory, path));
            source = transport + absolute + sourceImage[(transport.Length + path.Length)..];
        }

        return AddImage(builder, imageName, imageNamePrefix, tag, dependsOn, buildStrategy, source: source);
    }

    /// <summary>
    /// Keeps the registry's storage in <paramref name="path"/> instead of <c>.hoist/VOLUME</c>
    /// in the app host's folder: any directory, e.g. one a <c>hoist up</c> registry used
    /// (the layout is the same).
    /// </summary>
    /// <param name="builder">The registry.</param>
    /// <param name="path">The directory, relative to the app host's folder or absolute; created at start when missing.</param>
    /// <returns>The registry's builder, for chaining.</returns>
    public static IResourceBuilder<DockerRegistryResource> WithStorageDirectory(
        this IResourceBuilder<DockerRegistryResource> builder, string path)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        builder.Resource.StorageDirectory = Path.GetFullPath(Path.Combine(builder.ApplicationBuilder.AppHostDirectory, path));
        return builder;
    }

    /// <summary>
    /// Makes <paramref name="strategy"/> produce every image of the registry that names no
    /// strategy of its own, instead of the built-in Dockerfile and import strategies.
    /// </summary>
    /// <param name="builder">The registry.</param>
    /// <param name="strategy">The strategy.</param>
    /// <returns>The registry's builder, for chaining.</returns>
    public static IResourceBuilder<DockerRegistryResource> WithImageBuildStrategy(
        this IResourceBuilder<DockerRegistryResource> builder, IImageBuildStrategy strategy)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(strategy);
        return builder.WithAnnotation(new ImageBuildStrategyAnnotation(strategy), ResourceAnnotationMutationBehavior.Replace);
    }

    /// <summary>
    /// Sets how many images are produced at once (default 3), how often a failed registry
    /// start or push is retried (default 3) and the first retry delay (default 1 s, doubled each time).
    /// </summary>
    /// <param name="builder">The registry.</param>
    /// <param name="maxParallel">Images built or imported at once (at least 1).</param>
    /// <param name="maxRetries">Retries of a registry start or a push (0 or more).</param>
    /// <param name="backoff">The first retry delay; <see langword="null"/>: keep it.</param>
    /// <returns>The registry's builder, for chaining.</returns>
    public static IResourceBuilder<DockerRegistryResource> WithImageBuildOptions(
        this IResourceBuilder<DockerRegistryResource> builder, int maxParallel = 3, int maxRetries = 3, TimeSpan? backoff = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxParallel, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetries);
        if (backoff is { } b)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(b, TimeSpan.Zero, nameof(backoff));
            builder.Resource.RetryBackoff = b;
        }
        builder.Resource.MaxParallelImageJobs = maxParallel;
        builder.Resource.MaxRetries = maxRetries;
        return builder;
    }

    /// <summary>
    /// Gives <paramref name="builder"/>'s resource the registry's address: its connection
    /// string (<c>ConnectionStrings__NAME=host:port</c>) and <c>REGISTRY=host:port</c>.
    /// </summary>
    /// <typeparam name="TDestination">The resource that uses the registry.</typeparam>
    /// <param name="builder">The resource that uses the registry.</param>
    /// <param name="registry">The registry.</param>
    /// <param name="connectionName">The connection string name; <see langword="null"/>: the registry's name.</param>
    /// <returns>The destination's builder, for chaining.</returns>
    public static IResourceBuilder<TDestination> WithReference<TDestination>(
        this IResourceBuilder<TDestination> builder, IResourceBuilder<DockerRegistryResource> registry, string? connectionName = null)
        where TDestination : IResourceWithEnvironment
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(registry);
        IResourceBuilder<IResourceWithConnectionString> source = registry;
        return builder.WithReference(source, connectionName)
            .WithEnvironment(RegistryVariable, registry.Resource.Address);
    }

    /// <summary>
    /// Adds the Docker Engine API (its images half) over <paramref name="registry"/>, served by
    /// <c>hoist engine</c> on <c>127.0.0.1</c> on a port Aspire allocates. It starts once the
    /// registry is healthy and its images are pushed.
    /// </summary>
    /// <param name="builder">The <see cref="IDistributedApplicationBuilder"/>.</param>
    /// <param name="registry">The registry whose images the engine serves.</param>
    /// <param name="name">The resource name; <see langword="null"/>: <c>REGISTRY-docker-api</c>.</param>
    /// <returns>A reference to the <see cref="IResourceBuilder{T}"/>.</returns>
    /// <remarks>A resource that references it (<c>WithReference(dockerApi)</c>) gets <c>DOCKER_HOST=tcp://127.0.0.1:PORT</c>.</remarks>
    public static IResourceBuilder<DockerApiResource> AddDockerApiResource(
        this IDistributedApplicationBuilder builder,
        IResourceBuilder<DockerRegistryResource> registry,
        [ResourceName] string? name = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(registry);
        if (name is not null)
        {
            ArgumentException.ThrowIfNullOrEmpty(name);
        }

        var api = new DockerApiResource(name ?? $"{registry.Resource.Name}-docker-api",
            registry.Resource.Command, builder.AppHostDirectory, registry.Resource);
        return builder.AddResource(api)
            .WithHttpEndpoint(name: DockerApiResource.PrimaryEndpointName)
            .WithArgs(context =>
            {
                context.Args.Add("engine");
                context.Args.Add("--addr");
                context.Args.Add(ReferenceExpression.Create(
                    $"127.0.0.1:{api.PrimaryEndpoint.Property(EndpointProperty.TargetPort)}"));
                context.Args.Add("--registry");
                context.Args.Add(registry.Resource.Address);
            })
            .WithHttpHealthCheck("/_ping", endpointName: DockerApiResource.PrimaryEndpointName)
            .WithRelationship(registry.Resource, "Registry")
            .WaitFor(registry)
            .WithIconName("Server")
            .ExcludeFromManifest();
    }

    /// <summary>
    /// Gives <paramref name="builder"/>'s resource <c>DOCKER_HOST=tcp://127.0.0.1:PORT</c>, the
    /// address of <paramref name="dockerApi"/>, and its connection string.
    /// </summary>
    /// <typeparam name="TDestination">The resource that uses the Docker API.</typeparam>
    /// <param name="builder">The resource that uses the Docker API.</param>
    /// <param name="dockerApi">The Docker API resource.</param>
    /// <returns>The destination's builder, for chaining.</returns>
    public static IResourceBuilder<TDestination> WithReference<TDestination>(
        this IResourceBuilder<TDestination> builder, IResourceBuilder<DockerApiResource> dockerApi)
        where TDestination : IResourceWithEnvironment
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(dockerApi);
        IResourceBuilder<IResourceWithConnectionString> source = dockerApi;
        return builder.WithReference(source)
            .WithEnvironment(DockerHostVariable, dockerApi.Resource.DockerHost);
    }

    private static void ValidateName(string imageName, string imageNamePrefix, string tag)
    {
        ImageNames.ThrowIfNotComponent(imageName, nameof(imageName));
        ImageNames.ThrowIfNotPath(imageNamePrefix, nameof(imageNamePrefix));
        ImageNames.ThrowIfNotTag(tag, nameof(tag));
    }

    // Records the image on the registry and adds its child resource; the arguments are checked.
    private static IResourceBuilder<DockerRegistryResource> AddImage(
        IResourceBuilder<DockerRegistryResource> builder, string imageName, string imageNamePrefix, string tag,
        IEnumerable<string>? dependsOn, IImageBuildStrategy? buildStrategy,
        string? context = null, string? dockerfile = null, IReadOnlyDictionary<string, string>? buildArgs = null,
        string? target = null, string? platform = null, string? source = null)
    {
        var image = new DockerRegistryImageAnnotation
        {
            ImageName = imageName,
            ImageNamePrefix = imageNamePrefix,
            Tag = tag,
            DockerfileContext = context,
            DockerfilePath = dockerfile,
            BuildArgs = buildArgs ?? new Dictionary<string, string>(),
            Target = target,
            Platform = platform,
            SourceImage = source,
            DependsOn = ResolveDependencies(builder.Resource, dependsOn),
            BuildStrategy = buildStrategy,
            ResourceName = ChildName(builder, imageName, tag),
        };
        if (builder.Resource.Images.Any(i => i.Key == image.Key))
        {
            throw new ArgumentException(
                $"The registry '{builder.Resource.Name}' already has an image {image.Key}; each image needs its own name, prefix or tag.",
                nameof(imageName));
        }
        builder.WithAnnotation(image);
        builder.ApplicationBuilder.AddResource(new DockerRegistryImageResource(image.ResourceName, builder.Resource, image))
            .WithInitialState(ImagePublisher.InitialSnapshot(image))
            .WithIconName("BoxArrowUp")
            .ExcludeFromManifest();
        return builder;
    }

    private static List<string> ResolveDependencies(DockerRegistryResource registry, IEnumerable<string>? dependsOn)
    {
        var resolved = new List<string>();
        foreach (var dependency in dependsOn ?? [])
        {
            ArgumentException.ThrowIfNullOrEmpty(dependency, nameof(dependsOn));
            var matches = registry.Images
                .Where(i => i.Key == dependency || i.Repository == dependency || i.ImageName == dependency)
                .ToList();
            if (matches.Count == 0)
            {
                throw new ArgumentException(
                    $"dependsOn names '{dependency}', which is not an image of the registry '{registry.Name}' declared before this one; declare it first.",
                    nameof(dependsOn));
            }
            if (matches.Count > 1)
            {
                throw new ArgumentException(
                    $"dependsOn names '{dependency}', which matches {string.Join(", ", matches.Select(m => m.Key))}; write prefix/name:tag.",
                    nameof(dependsOn));
            }
            if (!resolved.Contains(matches[0].Key))
            {
                resolved.Add(matches[0].Key);
            }
        }
        return resolved;
    }

    private static string ChildName(IResourceBuilder<DockerRegistryResource> builder, string imageName, string tag)
    {
        var taken = builder.ApplicationBuilder.Resources.Select(r => r.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var name = ImageNames.ToResourceName(builder.Resource.Name, imageName);
        if (taken.Contains(name))
        {
            name = ImageNames.ToResourceName(builder.Resource.Name, imageName, tag);
        }
        var unique = name;
        for (var n = 2; taken.Contains(unique); n++)
        {
            unique = ImageNames.ToResourceName(name, n.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        return unique;
    }

    private static bool IsRemoteContext(string context) =>
        context.Contains("://", StringComparison.Ordinal) || context.StartsWith("git@", StringComparison.Ordinal);

    [GeneratedRegex(@"^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?(,[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?)*$")]
    private static partial Regex PlatformList();
}
