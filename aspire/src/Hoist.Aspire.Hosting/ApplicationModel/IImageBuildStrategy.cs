using Microsoft.Extensions.Logging;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// Produces one registry image and pushes it: a Dockerfile build
/// (<see cref="DockerfileBuildStrategy"/>), an import (<see cref="ImageImportStrategy"/>),
/// or anything of a user's that leaves the image in the registry.
/// </summary>
/// <remarks>
/// A strategy returns once the image is in the registry under
/// <c>annotation.GetReference(registryUrl)</c>, and throws when it is not. The
/// integration then checks the registry for the tag and records its digest.
/// Throw <see cref="ImageBuildException"/> with <c>retryable: true</c> for a failure
/// worth trying again (a push), which is retried with exponential backoff.
/// Implement the overload taking <see cref="ImageBuildContext"/> to log into the
/// image's dashboard log and report states; the others are called through it.
/// </remarks>
public interface IImageBuildStrategy
{
    /// <summary>Produces the image and pushes it to the registry.</summary>
    /// <param name="annotation">The image.</param>
    /// <param name="registryUrl">The registry's <c>host:port</c> (e.g. <c>127.0.0.1:5000</c>), as image references name it.</param>
    /// <returns>A task that completes when the image is in the registry.</returns>
    Task BuildAsync(DockerRegistryImageAnnotation annotation, string registryUrl);

    /// <summary>Produces the image and pushes it to the registry, honouring cancellation.</summary>
    /// <param name="annotation">The image.</param>
    /// <param name="registryUrl">The registry's <c>host:port</c>.</param>
    /// <param name="cancellationToken">Cancelled when the app host stops.</param>
    /// <returns>A task that completes when the image is in the registry.</returns>
    Task BuildAsync(DockerRegistryImageAnnotation annotation, string registryUrl, CancellationToken cancellationToken) =>
        BuildAsync(annotation, registryUrl);

    /// <summary>Produces the image and pushes it, with the image's logger and state reporting.</summary>
    /// <param name="context">The image, the registry, the image's logger, hoist and the cancellation token.</param>
    /// <returns>A task that completes when the image is in the registry.</returns>
    Task BuildAsync(ImageBuildContext context) =>
        BuildAsync(context.Annotation, context.RegistryUrl, context.CancellationToken);
}

/// <summary>What a strategy gets for producing one image.</summary>
public sealed class ImageBuildContext
{
    private readonly Func<string, Task> _reportState;

    /// <summary>Creates a context.</summary>
    /// <param name="annotation">The image.</param>
    /// <param name="registryUrl">The registry's <c>host:port</c>.</param>
    /// <param name="hoist">The hoist binary to run.</param>
    /// <param name="workingDirectory">The app host's directory (where relative paths start).</param>
    /// <param name="logger">The image's log (the dashboard shows it under the image's resource).</param>
    /// <param name="reportState">Publishes a state of <see cref="DockerRegistryImageStates"/>; may be <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancelled when the app host stops.</param>
    public ImageBuildContext(
        DockerRegistryImageAnnotation annotation,
        string registryUrl,
        HoistTool hoist,
        string workingDirectory,
        ILogger logger,
        Func<string, Task>? reportState,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(annotation);
        ArgumentException.ThrowIfNullOrEmpty(registryUrl);
        ArgumentNullException.ThrowIfNull(hoist);
        ArgumentException.ThrowIfNullOrEmpty(workingDirectory);
        ArgumentNullException.ThrowIfNull(logger);
        Annotation = annotation;
        RegistryUrl = registryUrl;
        Hoist = hoist;
        WorkingDirectory = workingDirectory;
        Logger = logger;
        _reportState = reportState ?? (_ => Task.CompletedTask);
        CancellationToken = cancellationToken;
    }

    /// <summary>The image.</summary>
    public DockerRegistryImageAnnotation Annotation { get; }

    /// <summary>The registry's <c>host:port</c>.</summary>
    public string RegistryUrl { get; }

    /// <summary>The reference to push to: <c>host:port/prefix/name:tag</c>.</summary>
    public string Reference => Annotation.GetReference(RegistryUrl);

    /// <summary>The hoist binary to run.</summary>
    public HoistTool Hoist { get; }

    /// <summary>The app host's directory.</summary>
    public string WorkingDirectory { get; }

    /// <summary>The image's log.</summary>
    public ILogger Logger { get; }

    /// <summary>Cancelled when the app host stops.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>Publishes the image's state (one of <see cref="DockerRegistryImageStates"/>) to the dashboard.</summary>
    /// <param name="state">The state.</param>
    /// <returns>A task that completes when the state is published.</returns>
    public Task ReportStateAsync(string state) => _reportState(state);

    /// <summary><paramref name="value"/> with <c>${REGISTRY}</c> replaced by the registry's <c>host:port</c>.</summary>
    /// <param name="value">A build argument or source reference.</param>
    public string Expand(string value) => value.Replace("${REGISTRY}", RegistryUrl, StringComparison.Ordinal);

    /// <summary>
    /// Runs hoist with the image's log receiving its output, and throws
    /// <see cref="ImageBuildException"/> when it exits non-zero.
    /// </summary>
    /// <param name="arguments">hoist's arguments.</param>
    /// <param name="retryable">Whether a failure is worth retrying (a push).</param>
    /// <param name="onLine">Also receives each line (after the log).</param>
    /// <returns>The run's result (exit code 0).</returns>
    public async Task<HoistRunResult> RunHoistAsync(IReadOnlyList<string> arguments, bool retryable, Action<string>? onLine = null)
    {
        Logger.LogInformation("hoist {Arguments}", string.Join(' ', arguments));
        var result = await Hoist.RunAsync(arguments, WorkingDirectory, line =>
        {
            Logger.LogInformation("{Line}", line);
            onLine?.Invoke(line);
        }, CancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new ImageBuildException(
                $"hoist {arguments[0]} exited with code {result.ExitCode}: {result.ErrorMessage()}", retryable);
        }
        return result;
    }
}

/// <summary>Producing or pushing an image failed.</summary>
public sealed class ImageBuildException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, for the image's log and <see cref="DockerRegistryImageAnnotation.Error"/>.</param>
    /// <param name="retryable">Whether trying again may help (a push to the registry), rather than not (a broken Dockerfile).</param>
    /// <param name="innerException">The cause, if any.</param>
    public ImageBuildException(string message, bool retryable = false, Exception? innerException = null)
        : base(message, innerException)
    {
        Retryable = retryable;
    }

    /// <summary>Whether trying again may help.</summary>
    public bool Retryable { get; }
}
