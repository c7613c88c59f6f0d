using System.Collections.Immutable;
using System.Net;
using System.Net.Http.Headers;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Aspire.Hosting.Hoist;

/// <summary>
/// Produces a registry's images once it is healthy: each after the images it depends on
/// are pushed, at most <see cref="DockerRegistryResource.MaxParallelImageJobs"/> at once,
/// retryable failures (pushes) retried with exponential backoff. A failed image is logged
/// and marked failed; the others go on. Each image's state, reference, digest and log
/// are published to its child resource.
/// </summary>
internal sealed class ImagePublisher
{
    private const string ResourceType = "RegistryImage";

    // Loopback only, so no proxy: a proxy from the environment must not see these requests.
    private static readonly HttpClient s_http = new(new SocketsHttpHandler { UseProxy = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private static readonly string[] s_manifestTypes =
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ];

    private readonly DockerRegistryResource _registry;
    private readonly string _workingDirectory;
    private readonly ResourceNotificationService _notifications;
    private readonly ResourceLoggerService _loggers;
    private readonly IReadOnlyDictionary<DockerRegistryImageAnnotation, DockerRegistryImageResource> _children;
    private readonly ILogger _console;

    private ImagePublisher(
        DockerRegistryResource registry, string workingDirectory, ResourceNotificationService notifications,
        ResourceLoggerService loggers, IReadOnlyDictionary<DockerRegistryImageAnnotation, DockerRegistryImageResource> children,
        ILogger console)
    {
        _registry = registry;
        _workingDirectory = workingDirectory;
        _notifications = notifications;
        _loggers = loggers;
        _children = children;
        _console = console;
    }

    /// <summary>The app host's own log category (its console), for one line per image outcome.</summary>
    public const string ConsoleCategory = "Aspire.Hosting.Hoist";

    public static ImagePublisher Create(DockerRegistryResource registry, string workingDirectory, IServiceProvider services)
    {
        var children = services.GetRequiredService<DistributedApplicationModel>().Resources
            .OfType<DockerRegistryImageResource>()
            .Where(r => r.Parent == registry)
            .ToDictionary(r => r.Image);
        return new ImagePublisher(registry, workingDirectory,
            services.GetRequiredService<ResourceNotificationService>(),
            services.GetRequiredService<ResourceLoggerService>(),
            children,
            services.GetRequiredService<ILoggerFactory>().CreateLogger(ConsoleCategory));
    }

    /// <summary>Shows each image's full reference once the registry's address is known.</summary>
    public async Task PublishReferencesAsync(string registryUrl)
    {
        foreach (var image in _registry.Images)
        {
            await UpdateAsync(image, s => s with
            {
                Properties = Set(s.Properties, "image.reference", image.GetReference(registryUrl)),
            }).ConfigureAwait(false);
        }
    }

    /// <summary>Marks every image failed (the registry never became healthy).</summary>
    public async Task FailAllAsync(string reason)
    {
        foreach (var image in _registry.Images)
        {
            await FailAsync(image, reason).ConfigureAwait(false);
        }
    }

    /// <summary>Produces every image; returns when each has been pushed or has failed.</summary>
    public async Task PublishAsync(string registryUrl, CancellationToken cancellationToken)
    {
        var registryLogger = _loggers.GetLogger(_registry);
        var images = _registry.Images;
        var done = images.ToDictionary(i => i.Key, _ => new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously));
        using var slots = new SemaphoreSlim(Math.Max(1, _registry.MaxParallelImageJobs));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        registryLogger.LogInformation("producing {Count} image(s), at most {Parallel} at once", images.Count, _registry.MaxParallelImageJobs);
        await Task.WhenAll(images.Select(async image =>
        {
            var pushed = false;
            try
            {
                pushed = await RunAsync(image, registryUrl, done, slots, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                done[image.Key].TrySetResult(pushed);
            }
        })).ConfigureAwait(false);

        var failed = images.Where(i => !i.IsPushed).ToList();
        foreach (var image in images)
        {
            registryLogger.LogInformation("{Image}: {State} {Detail}", image.Key, image.State,
                image.IsPushed ? image.Digest : image.Error);
        }
        var seconds = clock.Elapsed.TotalSeconds;
        if (failed.Count > 0)
        {
            registryLogger.LogError("{Failed} of {Count} image(s) failed: {Names}", failed.Count, images.Count,
                string.Join(", ", failed.Select(i => i.Key)));
            _console.LogError("{Registry}: {Pushed} of {Count} image(s) pushed in {Seconds:0.00} s; failed: {Names}", _registry.Name,
                images.Count - failed.Count, images.Count, seconds, string.Join(", ", failed.Select(i => i.Key)));
        }
        else
        {
            registryLogger.LogInformation("all {Count} image(s) pushed", images.Count);
            _console.LogInformation("{Registry}: all {Count} image(s) pushed in {Seconds:0.00} s", _registry.Name, images.Count, seconds);
        }
    }

    private async Task<bool> RunAsync(
        DockerRegistryImageAnnotation image, string registryUrl, Dictionary<string, TaskCompletionSource<bool>> done,
        SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        var logger = _loggers.GetLogger(_children[image]);
        image.IsPushed = false;
        image.Error = null;
        image.Attempts = 0;
        image.StartedAt = image.FinishedAt = null;
        await SetStateAsync(image, DockerRegistryImageStates.Waiting).ConfigureAwait(false);

        foreach (var dependency in image.DependsOn)
        {
            if (!await done[dependency].Task.ConfigureAwait(false))
            {
                return await FailAsync(image, $"{dependency}, which it depends on, was not pushed").ConfigureAwait(false);
            }
        }

        try
        {
            await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return await FailAsync(image, "cancelled: the app host is stopping").ConfigureAwait(false);
        }

        image.StartedAt = DateTimeOffset.UtcNow;
        try
        {
            var strategy = image.BuildStrategy
                ?? _registry.Annotations.OfType<ImageBuildStrategyAnnotation>().LastOrDefault()?.Strategy
                ?? (image.DockerfileContext is not null ? new DockerfileBuildStrategy() : new ImageImportStrategy());
            var context = new ImageBuildContext(image, registryUrl, _registry.Hoist!, _workingDirectory, logger,
                state => SetStateAsync(image, state), cancellationToken);

            for (var retry = 0; ; retry++)
            {
                image.Attempts++;
                try
                {
                    await strategy.BuildAsync(context).ConfigureAwait(false);
                    break;
                }
                catch (ImageBuildException ex) when (ex.Retryable && retry < _registry.MaxRetries && !cancellationToken.IsCancellationRequested)
                {
                    var delay = Backoff.Delay(_registry.RetryBackoff, retry);
                    logger.LogWarning("{Message}; trying again in {Delay} s (retry {Retry} of {Retries})",
                        ex.Message, delay.TotalSeconds, retry + 1, _registry.MaxRetries);
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
            }

            var served = await GetServedDigestAsync(registryUrl, image, cancellationToken).ConfigureAwait(false);
            if (served is null)
            {
                return await FailAsync(image, $"the build finished but the registry has no {image.GetReference(registryUrl)}").ConfigureAwait(false);
            }
            if (image.Digest is not null && image.Digest != served)
            {
                logger.LogWarning("the build reported {Digest} but the registry serves {Served} for the tag", image.Digest, served);
            }
            image.Digest = served;
            image.IsPushed = true;
            logger.LogInformation("pushed {Reference}@{Digest}", image.GetReference(registryUrl), served);
            _console.LogInformation("{Registry}: {Image} pushed {Reference}@{Digest} in {Seconds:0.00} s{Build}", _registry.Name,
                image.ResourceName, image.GetReference(registryUrl), served, (DateTimeOffset.UtcNow - image.StartedAt!.Value).TotalSeconds,
                image.BuildSummary is null ? "" : $" ({image.BuildSummary})");
            await SetStateAsync(image, DockerRegistryImageStates.Pushed).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return await FailAsync(image, "cancelled: the app host is stopping").ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            return await FailAsync(image, ex.Message).ConfigureAwait(false);
        }
        finally
        {
            image.FinishedAt = DateTimeOffset.UtcNow;
            slots.Release();
        }
    }

    /// <summary>The digest the registry serves for the image's tag, or null when it has none.</summary>
    internal static async Task<string?> GetServedDigestAsync(string registryUrl, DockerRegistryImageAnnotation image, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, $"http://{registryUrl}/v2/{image.Repository}/manifests/{image.Tag}");
        foreach (var type in s_manifestTypes)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }
        using var response = await s_http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        response.EnsureSuccessStatusCode();
        return response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.FirstOrDefault() : null;
    }

    private async Task<bool> FailAsync(DockerRegistryImageAnnotation image, string reason)
    {
        image.IsPushed = false;
        image.Error = reason;
        _loggers.GetLogger(_children[image]).LogError("{Image} failed: {Reason}", image.Key, reason);
        _console.LogError("{Registry}: {Image} failed: {Reason}", _registry.Name, image.ResourceName, reason);
        await SetStateAsync(image, DockerRegistryImageStates.Failed).ConfigureAwait(false);
        return false;
    }

    private Task SetStateAsync(DockerRegistryImageAnnotation image, string state)
    {
        image.State = state;
        var style = state switch
        {
            DockerRegistryImageStates.Pushed => KnownResourceStateStyles.Success,
            DockerRegistryImageStates.Failed => KnownResourceStateStyles.Error,
            _ => KnownResourceStateStyles.Info,
        };
        var ended = state is DockerRegistryImageStates.Pushed or DockerRegistryImageStates.Failed;
        return UpdateAsync(image, s => s with
        {
            State = new ResourceStateSnapshot(state, style),
            StartTimeStamp = image.StartedAt?.UtcDateTime,
            StopTimeStamp = ended ? (image.FinishedAt ?? DateTimeOffset.UtcNow).UtcDateTime : null,
            Properties = Set(Set(Set(s.Properties,
                "image.digest", image.Digest ?? ""),
                "image.error", image.Error ?? ""),
                "image.build", image.BuildSummary ?? ""),
        });
    }

    private Task UpdateAsync(DockerRegistryImageAnnotation image, Func<CustomResourceSnapshot, CustomResourceSnapshot> update) =>
        _children.TryGetValue(image, out var child) ? _notifications.PublishUpdateAsync(child, update) : Task.CompletedTask;

    /// <summary>The initial dashboard snapshot of an image's child resource.</summary>
    internal static CustomResourceSnapshot InitialSnapshot(DockerRegistryImageAnnotation image) => new()
    {
        ResourceType = ResourceType,
        State = new ResourceStateSnapshot(DockerRegistryImageStates.Waiting, KnownResourceStateStyles.Info),
        Properties =
        [
            new("image.repository", image.Repository),
            new("image.tag", image.Tag),
            new(CustomResourceKnownProperties.Source, image.DockerfileContext ?? image.SourceImage ?? "(custom strategy)"),
            new("image.dependsOn", string.Join(", ", image.DependsOn)),
        ],
    };

    private static ImmutableArray<ResourcePropertySnapshot> Set(ImmutableArray<ResourcePropertySnapshot> properties, string name, object value)
    {
        var property = new ResourcePropertySnapshot(name, value);
        for (var i = 0; i < properties.Length; i++)
        {
            if (properties[i].Name == name)
            {
                return properties.SetItem(i, property);
            }
        }
        return properties.Add(property);
    }
}
