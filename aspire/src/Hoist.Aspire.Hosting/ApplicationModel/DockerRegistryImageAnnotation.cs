namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// One image a <see cref="DockerRegistryResource"/> should hold: how it is produced
/// (a Dockerfile build or an import of an existing image) and, once the app host
/// runs, what became of it.
/// </summary>
/// <remarks>
/// The declaration (the init-only properties) is fixed when the app host declares the
/// image; the state (<see cref="IsPushed"/>, <see cref="Digest"/>, <see cref="Error"/>, ...)
/// is written by the integration while the image is produced, from one job at a time.
/// </remarks>
public sealed class DockerRegistryImageAnnotation : IResourceAnnotation
{
    /// <summary>The last path component of the repository, e.g. <c>app</c>.</summary>
    public required string ImageName { get; init; }

    /// <summary>The path before <see cref="ImageName"/>, e.g. <c>your/custom/prefix</c>.</summary>
    public required string ImageNamePrefix { get; init; }

    /// <summary>The tag the image is pushed under.</summary>
    public required string Tag { get; init; }

    /// <summary>The build context (an absolute directory or file, or a remote URL) for a Dockerfile image; <see langword="null"/> for an import.</summary>
    public string? DockerfileContext { get; init; }

    /// <summary>The Dockerfile, absolute; <see langword="null"/>: <c>Dockerfile</c> in the context.</summary>
    public string? DockerfilePath { get; init; }

    /// <summary>Build arguments; <c>${REGISTRY}</c> in a value becomes the registry's <c>host:port</c>.</summary>
    public IReadOnlyDictionary<string, string> BuildArgs { get; init; } = new Dictionary<string, string>();

    /// <summary>The stage to build; <see langword="null"/>: the last one.</summary>
    public string? Target { get; init; }

    /// <summary>The platform(s) to build, e.g. <c>linux/amd64</c> or <c>linux/amd64,linux/arm64</c>.</summary>
    public string? Platform { get; init; }

    /// <summary>
    /// The image to import, for an import: any place <c>hoist copy</c> reads (<c>redis:alpine</c>,
    /// <c>oci:DIR[:TAG]</c>, <c>oci-archive:FILE</c>, <c>docker-archive:FILE</c>); local paths are absolute.
    /// <c>${REGISTRY}</c> becomes the registry's <c>host:port</c>.
    /// </summary>
    public string? SourceImage { get; init; }

    /// <summary>The images of the same registry (as <c>prefix/name:tag</c>) that must be pushed before this one starts.</summary>
    public IReadOnlyList<string> DependsOn { get; init; } = [];

    /// <summary>The strategy that produces this image; <see langword="null"/>: the registry's, else the built-in one.</summary>
    public IImageBuildStrategy? BuildStrategy { get; init; }

    /// <summary>The name of the child resource that shows this image in the dashboard.</summary>
    public required string ResourceName { get; init; }

    /// <summary>The repository path: <c>prefix/name</c>.</summary>
    public string Repository => $"{ImageNamePrefix}/{ImageName}";

    /// <summary>The image's key among the registry's images: <c>prefix/name:tag</c>.</summary>
    public string Key => $"{Repository}:{Tag}";

    /// <summary>The full reference of this image in the registry at <paramref name="registryUrl"/>.</summary>
    /// <param name="registryUrl">The registry's <c>host:port</c>.</param>
    public string GetReference(string registryUrl) => $"{registryUrl}/{Key}";

    /// <summary>Whether the image is in the registry: produced, pushed and found there under its tag.</summary>
    public bool IsPushed { get; internal set; }

    /// <summary>The manifest (or index) digest the registry serves for the tag, once pushed. A strategy may set it.</summary>
    public string? Digest { get; set; }

    /// <summary>Why producing the image failed; <see langword="null"/> unless it failed.</summary>
    public string? Error { get; internal set; }

    /// <summary>The current state, one of <see cref="DockerRegistryImageStates"/>.</summary>
    public string State { get; internal set; } = DockerRegistryImageStates.Waiting;

    /// <summary>For a Dockerfile image, hoist's build summary, e.g. <c>0 step(s) run, 5 cached</c>.</summary>
    public string? BuildSummary { get; set; }

    /// <summary>When the job took one of the registry's build slots (null until then).</summary>
    public DateTimeOffset? StartedAt { get; internal set; }

    /// <summary>When the job gave its slot back (null until then).</summary>
    public DateTimeOffset? FinishedAt { get; internal set; }

    /// <summary>How many times the strategy ran (more than once when pushes were retried).</summary>
    public int Attempts { get; internal set; }
}

/// <summary>The states a registry image goes through, as the dashboard shows them.</summary>
public static class DockerRegistryImageStates
{
    /// <summary>Declared; waiting for the registry, its dependencies or a build slot.</summary>
    public const string Waiting = "Waiting";

    /// <summary>A Dockerfile build is running.</summary>
    public const string Building = "Building";

    /// <summary>An import (<c>hoist copy</c>) is running.</summary>
    public const string Importing = "Importing";

    /// <summary>The image is being pushed.</summary>
    public const string Pushing = "Pushing";

    /// <summary>The registry serves the image under its tag.</summary>
    public const string Pushed = "Pushed";

    /// <summary>Producing or pushing the image failed (see <see cref="DockerRegistryImageAnnotation.Error"/>).</summary>
    public const string Failed = "Failed";
}
