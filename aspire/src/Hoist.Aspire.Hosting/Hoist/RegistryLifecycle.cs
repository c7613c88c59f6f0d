using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Eventing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Aspire.Hosting.Hoist;

/// <summary>
/// Drives one registry through Aspire's eventing: hoist is checked before anything
/// starts, the registry's start is retried with exponential backoff until it is healthy,
/// its endpoint is captured, and once it is healthy its images are produced.
/// </summary>
/// <remarks>
/// One instance per registry, created where the registry is declared; its handlers are
/// called by Aspire's eventing, its supervisor runs on the thread pool.
/// </remarks>
internal sealed class RegistryLifecycle
{
    private readonly DockerRegistryResource _registry;
    private readonly string? _hoistPath;
    private readonly string _hoistSource;
    private readonly string _workingDirectory;
    private int _ready;
    private int _publishing;

    private RegistryLifecycle(DockerRegistryResource registry, string? hoistPath, string hoistSource, string workingDirectory)
    {
        _registry = registry;
        _hoistPath = hoistPath;
        _hoistSource = hoistSource;
        _workingDirectory = workingDirectory;
    }

    /// <summary>Subscribes the registry's lifecycle to <paramref name="builder"/>'s eventing (run mode only).</summary>
    public static void Subscribe(IDistributedApplicationBuilder builder, DockerRegistryResource registry, string? hoistPath, string hoistSource)
    {
        if (!builder.ExecutionContext.IsRunMode)
        {
            return;
        }
        var lifecycle = new RegistryLifecycle(registry, hoistPath, hoistSource, builder.AppHostDirectory);
        builder.Eventing.Subscribe<BeforeStartEvent>(lifecycle.OnBeforeStartAsync);
        builder.Eventing.Subscribe<InitializeResourceEvent>(registry, lifecycle.OnInitialize);
        builder.Eventing.Subscribe<BeforeResourceStartedEvent>(registry, lifecycle.OnBeforeResourceStarted);
        builder.Eventing.Subscribe<ResourceEndpointsAllocatedEvent>(registry, lifecycle.OnEndpointsAllocatedAsync);
        builder.Eventing.Subscribe<ResourceReadyEvent>(registry, lifecycle.OnReadyAsync);
    }

    // Before any resource starts: a missing or too old hoist stops the app host here,
    // with a message that says what to do, instead of a registry that never comes up.
    private async Task OnBeforeStartAsync(BeforeStartEvent e, CancellationToken cancellationToken)
    {
        _registry.Hoist = await HoistTool.CheckAsync(_hoistPath, _hoistSource, cancellationToken).ConfigureAwait(false);
    }

    private Task OnInitialize(InitializeResourceEvent e, CancellationToken cancellationToken)
    {
        var stopping = e.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        var commands = e.Services.GetRequiredService<ResourceCommandService>();
        _ = Task.Run(() => SuperviseStartAsync(e.Services, e.Notifications, commands, e.Logger, stopping), CancellationToken.None);
        return Task.CompletedTask;
    }

    private Task OnBeforeResourceStarted(BeforeResourceStartedEvent e, CancellationToken cancellationToken)
    {
        var logger = e.Services.GetRequiredService<ResourceLoggerService>().GetLogger(_registry);
        try
        {
            Directory.CreateDirectory(_registry.StorageDirectory);
        }
        catch (IOException ex)
        {
            // The registry reports it too and exits; the supervisor retries.
            logger.LogWarning("cannot create the storage directory {Directory}: {Message}", _registry.StorageDirectory, ex.Message);
        }
        logger.LogInformation("starting {Hoist} registry serve (storage {Directory})", _registry.Command, _registry.StorageDirectory);
        return Task.CompletedTask;
    }

    private async Task OnEndpointsAllocatedAsync(ResourceEndpointsAllocatedEvent e, CancellationToken cancellationToken)
    {
        if (_registry.PrimaryEndpoint.IsAllocated)
        {
            _registry.RegistryUrl = $"127.0.0.1:{_registry.PrimaryEndpoint.Port}";
            e.Services.GetRequiredService<ResourceLoggerService>().GetLogger(_registry)
                .LogInformation("registry endpoint {Address}", _registry.RegistryUrl);
            e.Services.GetRequiredService<ILoggerFactory>().CreateLogger(ImagePublisher.ConsoleCategory)
                .LogInformation("{Registry}: REGISTRY={Address} (storage {Directory})", _registry.Name, _registry.RegistryUrl, _registry.StorageDirectory);
            await ImagePublisher.Create(_registry, _workingDirectory, e.Services)
                .PublishReferencesAsync(_registry.RegistryUrl).ConfigureAwait(false);
        }
    }

    // Healthy (GET /v2/ answered 200): produce the images. Awaited by Aspire, so a resource
    // that waits for the registry (WaitFor) starts once its images are there.
    private async Task OnReadyAsync(ResourceReadyEvent e, CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _ready, 1);
        if (Interlocked.Exchange(ref _publishing, 1) == 1)
        {
            return;
        }
        try
        {
            var stopping = e.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
            _registry.RegistryUrl ??= await _registry.Address.GetValueAsync(cts.Token).ConfigureAwait(false);
            await ImagePublisher.Create(_registry, _workingDirectory, e.Services)
                .PublishAsync(_registry.RegistryUrl!, cts.Token).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Exchange(ref _publishing, 0);
        }
    }

    // Until the registry is healthy once, an exit (or a failure to start) is followed by
    // a new start after 1 s, 2 s, 4 s, ... (RetryBackoff doubled), at most MaxRetries times.
    private async Task SuperviseStartAsync(
        IServiceProvider services, ResourceNotificationService notifications, ResourceCommandService commands,
        ILogger logger, CancellationToken stopping)
    {
        var retries = 0;
        string? lastState = null;
        try
        {
            await foreach (var update in notifications.WatchAsync(stopping).ConfigureAwait(false))
            {
                if (update.Resource != _registry)
                {
                    continue;
                }
                if (Volatile.Read(ref _ready) == 1)
                {
                    return;
                }
                var state = update.Snapshot.State?.Text;
                var ended = IsEnded(state) && !IsEnded(lastState);
                lastState = state;
                if (!ended)
                {
                    continue;
                }
                if (retries >= _registry.MaxRetries)
                {
                    logger.LogError("the registry did not start after {Attempts} attempts (last state {State}, exit code {ExitCode})",
                        retries + 1, state, update.Snapshot.ExitCode);
                    await ImagePublisher.Create(_registry, _workingDirectory, services)
                        .FailAllAsync($"the registry {_registry.Name} did not start").ConfigureAwait(false);
                    return;
                }
                var delay = Backoff.Delay(_registry.RetryBackoff, retries);
                retries++;
                logger.LogWarning("the registry ended ({State}, exit code {ExitCode}) before it was healthy; starting it again in {Delay} s (retry {Retry} of {Retries})",
                    state, update.Snapshot.ExitCode, delay.TotalSeconds, retries, _registry.MaxRetries);
                await Task.Delay(delay, stopping).ConfigureAwait(false);
                var result = await commands.ExecuteCommandAsync(_registry, KnownResourceCommands.StartCommand, stopping).ConfigureAwait(false);
                if (!result.Success)
                {
                    logger.LogWarning("starting the registry again failed: {Message}", result.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private static bool IsEnded(string? state) =>
        state == KnownResourceStates.Exited || state == KnownResourceStates.FailedToStart || state == KnownResourceStates.Finished;
}

/// <summary>Exponential backoff: <c>first * 2^retry</c>, at most 30 s.</summary>
internal static class Backoff
{
    public static TimeSpan Delay(TimeSpan first, int retry) =>
        TimeSpan.FromTicks(Math.Min(first.Ticks * (1L << Math.Min(retry, 20)), TimeSpan.FromSeconds(30).Ticks));
}
