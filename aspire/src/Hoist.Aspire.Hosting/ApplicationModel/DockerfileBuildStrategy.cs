using System.Text.RegularExpressions;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// The built-in strategy for <c>WithRegistryDockerfile</c> images:
/// <c>hoist build -t REF --push</c>, rootless and without a daemon. hoist's build cache
/// (in <c>$HOIST_HOME/store</c>) makes an unchanged image a cache hit with the same digest.
/// </summary>
/// <remarks>
/// The image is <see cref="DockerRegistryImageStates.Building"/> until hoist starts
/// pushing, then <see cref="DockerRegistryImageStates.Pushing"/>; a failure after the push
/// started is retryable (the retry's build is all cache hits), a failure before is not.
/// Safe for concurrent use.
/// </remarks>
public sealed partial class DockerfileBuildStrategy : HoistImageStrategy
{
    /// <summary>A strategy used through <see cref="BuildAsync(ImageBuildContext)"/>, as the integration does.</summary>
    public DockerfileBuildStrategy()
    {
    }

    /// <summary>A strategy that can also be called without a context.</summary>
    /// <param name="hoist">The hoist binary.</param>
    /// <param name="workingDirectory">Where relative paths start.</param>
    public DockerfileBuildStrategy(HoistTool hoist, string workingDirectory)
        : base(hoist, workingDirectory)
    {
    }

    /// <inheritdoc/>
    public override async Task BuildAsync(ImageBuildContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var image = context.Annotation;
        if (image.DockerfileContext is null)
        {
            throw new ImageBuildException($"{image.Key} has no Dockerfile context: it is not a Dockerfile image.");
        }

        var iidFile = Path.Combine(Path.GetTempPath(), $"hoist-aspire-{Guid.NewGuid():N}.iid");
        var arguments = new List<string> { "build", "-t", context.Reference, "--push", "--progress", "plain", "--iidfile", iidFile };
        if (image.DockerfilePath is not null)
        {
            arguments.AddRange(["-f", image.DockerfilePath]);
        }
        foreach (var (key, value) in image.BuildArgs)
        {
            arguments.AddRange(["--build-arg", $"{key}={context.Expand(value)}"]);
        }
        if (image.Target is not null)
        {
            arguments.AddRange(["--target", image.Target]);
        }
        if (image.Platform is not null)
        {
            arguments.AddRange(["--platform", image.Platform]);
        }
        arguments.Add(image.DockerfileContext);

        var pushing = false;
        string? summary = null;
        await context.ReportStateAsync(DockerRegistryImageStates.Building).ConfigureAwait(false);
        try
        {
            await context.RunHoistAsync(arguments, retryable: false, line =>
            {
                if (!pushing && PushStep().IsMatch(line))
                {
                    pushing = true;
                    _ = context.ReportStateAsync(DockerRegistryImageStates.Pushing);
                }
                if (SummaryLine().Match(line) is { Success: true } m)
                {
                    summary = m.Groups[1].Value;
                }
            }).ConfigureAwait(false);
            image.BuildSummary = summary;
            if (File.Exists(iidFile))
            {
                image.Digest = (await File.ReadAllTextAsync(iidFile, context.CancellationToken).ConfigureAwait(false)).Trim();
            }
        }
        catch (ImageBuildException ex) when (pushing)
        {
            // The build itself succeeded; the push is worth another try.
            throw new ImageBuildException(ex.Message, retryable: true, ex);
        }
        finally
        {
            File.Delete(iidFile);
        }
    }

    // BuildKit-style plain progress: "#12 pushing 127.0.0.1:5000/examples/app:1.0".
    [GeneratedRegex(@"^#\d+ pushing ")]
    private static partial Regex PushStep();

    // "built sha256:... in 0.35s: 5 step(s) run, 0 cached"
    [GeneratedRegex(@"^built \S+ in [^:]+: (.+)$")]
    private static partial Regex SummaryLine();
}

/// <summary>
/// The built-in strategy for <c>WithRegistryImage</c> images: <c>hoist copy SOURCE REF</c>,
/// blob by blob, never unpacked; blobs the registry has are skipped.
/// </summary>
/// <remarks>
/// A local source (<c>oci:</c>, <c>oci-archive:</c>, <c>docker-archive:</c>) that does not
/// exist fails at once; any other failure of the copy is retryable. Safe for concurrent use.
/// </remarks>
public sealed class ImageImportStrategy : HoistImageStrategy
{
    private static readonly string[] s_localTransports = ["oci:", "oci-archive:", "docker-archive:"];

    /// <summary>A strategy used through <see cref="BuildAsync(ImageBuildContext)"/>, as the integration does.</summary>
    public ImageImportStrategy()
    {
    }

    /// <summary>A strategy that can also be called without a context.</summary>
    /// <param name="hoist">The hoist binary.</param>
    /// <param name="workingDirectory">Where relative paths start.</param>
    public ImageImportStrategy(HoistTool hoist, string workingDirectory)
        : base(hoist, workingDirectory)
    {
    }

    /// <inheritdoc/>
    public override async Task BuildAsync(ImageBuildContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var image = context.Annotation;
        if (image.SourceImage is null)
        {
            throw new ImageBuildException($"{image.Key} has no source image: it is not an import.");
        }
        var source = context.Expand(image.SourceImage);
        if (LocalPath(source) is { } path && !Path.Exists(Path.Combine(context.WorkingDirectory, path)))
        {
            throw new ImageBuildException($"the source {source} does not exist.");
        }

        await context.ReportStateAsync(DockerRegistryImageStates.Importing).ConfigureAwait(false);
        await context.RunHoistAsync(["copy", source, context.Reference], retryable: true).ConfigureAwait(false);
    }

    /// <summary>The file or directory a local source names (without an <c>oci:</c> tag), else null.</summary>
    internal static string? LocalPath(string source)
    {
        foreach (var transport in s_localTransports)
        {
            if (!source.StartsWith(transport, StringComparison.Ordinal))
            {
                continue;
            }
            var rest = source[transport.Length..];
            if (transport != "docker-archive:")
            {
                // oci:DIR[:TAG]: a last ':' with no '/' after it starts the tag.
                var colon = rest.LastIndexOf(':');
                if (colon > 0 && rest.IndexOf('/', colon) < 0)
                {
                    rest = rest[..colon];
                }
            }
            else
            {
                // docker-archive:FILE[:REF]: a REF has no '/' before a ':' that follows the file.
                var colon = rest.IndexOf(':');
                if (colon > 0)
                {
                    rest = rest[..colon];
                }
            }
            return rest;
        }
        return null;
    }
}

/// <summary>
/// What the built-in strategies share: they run hoist, and can be called without an
/// <see cref="ImageBuildContext"/> when they were given the hoist binary and a working directory.
/// </summary>
public abstract class HoistImageStrategy : IImageBuildStrategy
{
    private readonly HoistTool? _hoist;
    private readonly string? _workingDirectory;

    /// <summary>A strategy used through <see cref="BuildAsync(ImageBuildContext)"/> only.</summary>
    protected HoistImageStrategy()
    {
    }

    /// <summary>A strategy that can also be called without a context.</summary>
    /// <param name="hoist">The hoist binary.</param>
    /// <param name="workingDirectory">Where relative paths start.</param>
    protected HoistImageStrategy(HoistTool hoist, string workingDirectory)
    {
        ArgumentNullException.ThrowIfNull(hoist);
        ArgumentException.ThrowIfNullOrEmpty(workingDirectory);
        _hoist = hoist;
        _workingDirectory = workingDirectory;
    }

    /// <inheritdoc/>
    public Task BuildAsync(DockerRegistryImageAnnotation annotation, string registryUrl) =>
        BuildAsync(annotation, registryUrl, CancellationToken.None);

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">The strategy was made without a hoist binary and a working directory.</exception>
    public Task BuildAsync(DockerRegistryImageAnnotation annotation, string registryUrl, CancellationToken cancellationToken)
    {
        if (_hoist is null || _workingDirectory is null)
        {
            throw new InvalidOperationException(
                $"{GetType().Name} needs a HoistTool and a working directory to run without an ImageBuildContext; construct it with them.");
        }
        return BuildAsync(new ImageBuildContext(annotation, registryUrl, _hoist, _workingDirectory,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, reportState: null, cancellationToken));
    }

    /// <inheritdoc/>
    public abstract Task BuildAsync(ImageBuildContext context);
}
