using System.Net.Http.Headers;
using System.Security.Cryptography;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Hoist.Aspire.Hosting.Tests;

/// <summary>The tests that run an app host for real (DCP, hoist processes) run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AppHostCollection
{
    public const string Name = "app host runs";
}

/// <summary>Helpers for running an app host for real with Aspire.Hosting.Testing.</summary>
internal static class AppHostRun
{
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    private static readonly HttpClient s_http = new(new SocketsHttpHandler { UseProxy = false });

    /// <summary>A testing builder whose app host folder is <paramref name="directory"/> (no dashboard).</summary>
    public static IDistributedApplicationTestingBuilder Create(string directory) =>
        DistributedApplicationTestingBuilder.Create([], (options, settings) =>
        {
            options.ProjectDirectory = directory;
            options.DisableDashboard = true;
        });

    /// <summary>Waits until every image of <paramref name="registry"/> is pushed or failed.</summary>
    public static async Task WaitForImagesAsync(DistributedApplication app, DockerRegistryResource registry)
    {
        using var cts = new CancellationTokenSource(Timeout);
        foreach (var image in registry.Images)
        {
            await app.ResourceNotifications.WaitForResourceAsync(image.ResourceName,
                e => e.Snapshot.State?.Text is DockerRegistryImageStates.Pushed or DockerRegistryImageStates.Failed, cts.Token);
        }
    }

    /// <summary>What <c>GET /v2/NAME/manifests/TAG</c> answers: the Docker-Content-Digest header and the body's digest.</summary>
    public static async Task<(string? Header, string BodyDigest)> GetManifestDigestAsync(string registryUrl, string repository, string tag)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{registryUrl}/v2/{repository}/manifests/{tag}");
        foreach (var type in new[]
                 {
                     "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
                 })
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }
        using var response = await s_http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsByteArrayAsync();
        var header = response.Headers.TryGetValues("Docker-Content-Digest", out var values) ? values.Single() : null;
        return (header, "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body)));
    }

    /// <summary>Every line a resource logged so far.</summary>
    public static async Task<List<string>> GetLogsAsync(DistributedApplication app, IResource resource)
    {
        var lines = new List<string>();
        await foreach (var batch in app.Services.GetRequiredService<ResourceLoggerService>().GetAllAsync(resource))
        {
            // Each line's content starts with its timestamp.
            lines.AddRange(batch.Select(l => l.Content[(l.Content.IndexOf(' ') + 1)..]));
        }
        return lines;
    }

    /// <summary>The largest number of images whose build slots overlapped in time.</summary>
    public static int MaxConcurrentJobs(IEnumerable<DockerRegistryImageAnnotation> images)
    {
        var events = images
            .Where(i => i.StartedAt is not null && i.FinishedAt is not null)
            .SelectMany(i => new[] { (Time: i.StartedAt!.Value, Delta: 1), (Time: i.FinishedAt!.Value, Delta: -1) })
            .OrderBy(e => e.Time).ThenBy(e => e.Delta);
        int current = 0, max = 0;
        foreach (var (_, delta) in events)
        {
            current += delta;
            max = Math.Max(max, current);
        }
        return max;
    }

    /// <summary>A Dockerfile context whose RUN step fails.</summary>
    public static string BrokenContext()
    {
        var context = TestEnvironment.NewDirectory("broken");
        File.WriteAllText(Path.Combine(context, "Dockerfile"), """
            ARG BASE
            FROM ${BASE}
            RUN echo "about to fail" && exit 3
            """);
        return context;
    }
}
