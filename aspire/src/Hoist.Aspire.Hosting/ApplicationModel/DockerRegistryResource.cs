namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// A local OCI registry, run as <c>hoist registry serve</c>, and the images it should hold.
/// </summary>
/// <remarks>
/// The registry listens on <c>127.0.0.1</c> on a port Aspire allocates; its storage is a
/// directory that outlives the app host (<see cref="StorageDirectory"/>), so images and
/// layers survive restarts. It needs no authentication. Its connection string is its
/// <c>host:port</c>, the way image references name a registry.
/// </remarks>
/// <param name="name">The resource name.</param>
/// <param name="command">The hoist binary.</param>
/// <param name="workingDirectory">The app host's directory.</param>
/// <param name="storageDirectory">The registry's storage root (absolute).</param>
public class DockerRegistryResource(string name, string command, string workingDirectory, string storageDirectory)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    /// <summary>The name of the registry's HTTP endpoint.</summary>
    public const string PrimaryEndpointName = "http";

    private EndpointReference? _primaryEndpoint;

    /// <summary>The registry's HTTP endpoint.</summary>
    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, PrimaryEndpointName);

    /// <summary>The registry's storage root (the <c>registry:2</c> on-disk layout).</summary>
    public string StorageDirectory { get; internal set; } = storageDirectory;

    /// <summary>The registry's <c>host:port</c>, e.g. <c>127.0.0.1:41234</c>.</summary>
    public ReferenceExpression Address =>
        ReferenceExpression.Create($"127.0.0.1:{PrimaryEndpoint.Property(EndpointProperty.Port)}");

    /// <summary>The connection string: the registry's <c>host:port</c>.</summary>
    public ReferenceExpression ConnectionStringExpression => Address;

    /// <summary>The registry's <c>host:port</c> once Aspire allocated its endpoint; <see langword="null"/> before.</summary>
    public string? RegistryUrl { get; internal set; }

    /// <summary>The images declared on this registry, in declaration order.</summary>
    public IReadOnlyList<DockerRegistryImageAnnotation> Images => [.. Annotations.OfType<DockerRegistryImageAnnotation>()];

    /// <summary>How many images are built or imported at once.</summary>
    public int MaxParallelImageJobs { get; set; } = 3;

    /// <summary>How many times a failed start of the registry, or a failed push, is retried.</summary>
    public int MaxRetries { get; set; } = 3;

    /// <summary>The first retry delay; each later one is twice the one before (at most 30 s).</summary>
    public TimeSpan RetryBackoff { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The hoist binary, once checked at start.</summary>
    internal HoistTool? Hoist { get; set; }
}

/// <summary>
/// One image of a <see cref="DockerRegistryResource"/>, shown in the dashboard as a child
/// of its registry with its own state, reference, digest and log.
/// </summary>
/// <param name="name">The resource name.</param>
/// <param name="registry">The registry that holds the image.</param>
/// <param name="image">The image.</param>
public class DockerRegistryImageResource(string name, DockerRegistryResource registry, DockerRegistryImageAnnotation image)
    : Resource(name), IResourceWithParent<DockerRegistryResource>
{
    /// <summary>The registry that holds the image.</summary>
    public DockerRegistryResource Parent { get; } = registry;

    /// <summary>The image.</summary>
    public DockerRegistryImageAnnotation Image { get; } = image;
}

/// <summary>
/// The image build strategy a registry uses for its images that name none of their own.
/// </summary>
/// <param name="Strategy">The strategy.</param>
public sealed record ImageBuildStrategyAnnotation(IImageBuildStrategy Strategy) : IResourceAnnotation;

/// <summary>
/// The Docker Engine API (its images half), served by <c>hoist engine</c> over the images
/// of a <see cref="DockerRegistryResource"/>. A resource that references it gets
/// <c>DOCKER_HOST=tcp://127.0.0.1:PORT</c>.
/// </summary>
/// <param name="name">The resource name.</param>
/// <param name="command">The hoist binary.</param>
/// <param name="workingDirectory">The app host's directory.</param>
/// <param name="registry">The registry the engine serves.</param>
public class DockerApiResource(string name, string command, string workingDirectory, DockerRegistryResource registry)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    /// <summary>The name of the engine's HTTP endpoint.</summary>
    public const string PrimaryEndpointName = "http";

    private EndpointReference? _primaryEndpoint;

    /// <summary>The engine's HTTP endpoint.</summary>
    public EndpointReference PrimaryEndpoint => _primaryEndpoint ??= new(this, PrimaryEndpointName);

    /// <summary>The registry the engine serves.</summary>
    public DockerRegistryResource Registry { get; } = registry;

    /// <summary>The value of <c>DOCKER_HOST</c> for clients: <c>tcp://127.0.0.1:PORT</c>.</summary>
    public ReferenceExpression DockerHost =>
        ReferenceExpression.Create($"tcp://127.0.0.1:{PrimaryEndpoint.Property(EndpointProperty.Port)}");

    /// <summary>The connection string: <see cref="DockerHost"/>.</summary>
    public ReferenceExpression ConnectionStringExpression => DockerHost;
}
