using System.Diagnostics;
using System.Formats.Tar;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Docker.DotNet;
using Docker.DotNet.Models;

namespace Hoist.Aspire.Hosting.Tests;

/// <summary>
/// Docker.DotNet, an Engine API client other than the docker CLI, against the
/// <c>hoist engine</c> that <c>AddDockerApiResource</c> started in the example run:
/// version, a classic-builder build of an in-memory tar context, list, inspect, tag and
/// push, a failing build, and a container call.
/// </summary>
/// <remarks>
/// Each test that needs <c>dotnet-built:1</c> builds it (a rebuild hits the engine's
/// cache), so none depends on another having run.
/// </remarks>
[Collection(ExampleRunCollection.Name)]
public sealed class DockerApiClientTests(ExampleRunFixture run)
{
    private const string BuiltTag = "dotnet-built:1";

    private static readonly HttpClient s_http = new(new SocketsHttpHandler { UseProxy = false });

    [Fact]
    public async Task VersionIsApi147AndHoistsVersion()
    {
        using var client = await ConnectAsync();

        var version = await client.System.GetVersionAsync();

        Assert.Equal("1.47", version.APIVersion);
        Assert.Equal(await HoistVersionAsync(), version.Version);
    }

    [Fact]
    public async Task ABuildOfATarContextStreamsTheImageIdAndNoError()
    {
        using var client = await ConnectAsync();

        var messages = await BuildAsync(client, BuiltDockerfile(), BuiltTag);

        Assert.DoesNotContain(messages, m => m.Error is not null || m.ErrorMessage is not null);
        Assert.Matches("^sha256:[0-9a-f]{64}$", AuxValue(messages, "ID"));
        Assert.Contains(messages, m => m.Stream == $"Successfully tagged {BuiltTag}\n");
    }

    [Fact]
    public async Task TheBuiltImageIsListedAndInspectedWithItsRunLayer()
    {
        using var client = await ConnectAsync();
        var id = AuxValue(await BuildAsync(client, BuiltDockerfile(), BuiltTag), "ID");

        var images = await client.Images.ListImagesAsync(new ImagesListParameters { All = true });
        var inspect = await client.Images.InspectImageAsync(BuiltTag);

        var listed = Assert.Single(images, i => i.RepoTags?.Contains(BuiltTag) == true);
        Assert.Equal(id, listed.ID);
        Assert.Equal(id, inspect.ID);
        Assert.Contains(BuiltTag, inspect.RepoTags);
        Assert.Equal("linux", inspect.Os);
        Assert.Equal(await BaseLayerCountAsync() + 2, inspect.RootFS.Layers.Count); // RUN and COPY
        Assert.Equal(new[] { "sh" }, inspect.Config.Cmd);
        Assert.Contains(inspect.Config.Env, e => e.StartsWith("PATH=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ATaggedImageIsPushedToTheRegistry()
    {
        using var client = await ConnectAsync();
        await BuildAsync(client, BuiltDockerfile(), BuiltTag);
        var repository = $"{run.Registry.RegistryUrl}/dotnet/built";

        await client.Images.TagImageAsync(BuiltTag, new ImageTagParameters { RepositoryName = repository, Tag = "1" });
        var progress = new Messages();
        await client.Images.PushImageAsync(repository, new ImagePushParameters { Tag = "1" }, new AuthConfig(), progress);

        Assert.DoesNotContain(progress.All, m => m.Error is not null || m.ErrorMessage is not null);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://{run.Registry.RegistryUrl}/v2/dotnet/built/manifests/1");
        foreach (var type in new[]
                 {
                     "application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json",
                     "application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json",
                 })
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }
        using var response = await s_http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.TryGetValues("Docker-Content-Digest", out var digests), "Docker-Content-Digest is missing");
        var digest = Assert.Single(digests);
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(await response.Content.ReadAsByteArrayAsync())), digest);
        Assert.Equal(digest, AuxValue(progress.All, "Digest"));
    }

    [Fact]
    public async Task AFailingRunStreamsTheErrorAndAddsNoImage()
    {
        using var client = await ConnectAsync();
        var before = await ListAsync(client);

        var messages = await BuildAsync(client, $"""
            FROM {run.Registry.RegistryUrl}/library/busybox:latest
            RUN exit 3
            """, "dotnet-broken:1");

        Assert.Contains(messages, m => m.Error?.Message?.Contains("exit code: 3", StringComparison.Ordinal) == true);
        Assert.Contains(messages, m => m.ErrorMessage?.Contains("exit code: 3", StringComparison.Ordinal) == true);
        Assert.DoesNotContain(messages, m => m.Aux is not null);
        Assert.Equal(before, await ListAsync(client));
    }

    [Fact]
    public async Task AContainerCallFailsSayingHoistRunsNoContainers()
    {
        using var client = await ConnectAsync();

        var error = await Assert.ThrowsAsync<DockerApiException>(
            () => client.Containers.ListContainersAsync(new ContainersListParameters { All = true }));

        Assert.Equal(HttpStatusCode.NotImplemented, error.StatusCode);
        Assert.Contains("runs no containers", error.Message);
    }

    /// <summary>A client of the engine at the Docker API resource's <c>DOCKER_HOST</c> (<c>tcp://</c>: plain HTTP).</summary>
    private async Task<DockerClient> ConnectAsync()
    {
        var dockerHost = await run.DockerApi.DockerHost.GetValueAsync(default);
        Assert.Matches(@"^tcp://127\.0\.0\.1:\d+$", dockerHost);
        return new DockerClientConfiguration(new Uri(dockerHost!)).CreateClient(); // the client disposes its configuration
    }

    private string BuiltDockerfile() => $"""
        FROM {run.Registry.RegistryUrl}/library/busybox:latest
        RUN echo hi > /hi
        COPY file /file
        """;

    /// <summary>Builds a context of <paramref name="dockerfile"/> and a file <c>file</c>; every message of the stream, in order.</summary>
    private static async Task<IReadOnlyList<JSONMessage>> BuildAsync(DockerClient client, string dockerfile, string tag)
    {
        using var context = Tar(("Dockerfile", dockerfile), ("file", "copied by Docker.DotNet\n"));
        var progress = new Messages();
        await client.Images.BuildImageFromDockerfileAsync(new ImageBuildParameters { Tags = [tag] }, context,
            authConfigs: [], headers: new Dictionary<string, string>(), progress);
        return progress.All;
    }

    /// <summary>A tar (PAX, as <see cref="TarWriter"/> writes by default) of the given files, in memory.</summary>
    private static MemoryStream Tar(params (string Name, string Content)[] files)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, leaveOpen: true))
        {
            foreach (var (name, content) in files)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, name)
                {
                    DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)),
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                });
            }
        }
        tar.Position = 0;
        return tar;
    }

    /// <summary>The one aux message's <paramref name="key"/> (the build's <c>ID</c>, the push's <c>Digest</c>).</summary>
    private static string AuxValue(IEnumerable<JSONMessage> messages, string key)
    {
        var aux = Assert.Single(messages, m => m.Aux is not null).Aux;
        Assert.True(aux.ExtensionData.TryGetValue(key, out var value), $"the aux message has no {key}");
        return Assert.IsType<string>(value);
    }

    /// <summary>Every image the engine lists, as its ID and sorted tags.</summary>
    private static async Task<List<string>> ListAsync(DockerClient client) =>
        (await client.Images.ListImagesAsync(new ImagesListParameters { All = true }))
        .Select(i => $"{i.ID} {string.Join(",", (i.RepoTags ?? []).Order(StringComparer.Ordinal))}")
        .Order(StringComparer.Ordinal)
        .ToList();

    /// <summary>The layers of the base image, as the registry serves its manifest.</summary>
    private async Task<int> BaseLayerCountAsync()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get,
            $"http://{run.Registry.RegistryUrl}/v2/library/busybox/manifests/latest");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.oci.image.manifest.v1+json"));
        using var response = await s_http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        using var manifest = JsonDocument.Parse(await response.Content.ReadAsStreamAsync());
        return manifest.RootElement.GetProperty("layers").GetArrayLength();
    }

    /// <summary>X.Y.Z of <c>hoist --version</c> (<c>hoist X.Y.Z</c>).</summary>
    private static async Task<string> HoistVersionAsync()
    {
        using var hoist = Process.Start(new ProcessStartInfo(TestEnvironment.HoistPath, "--version")
        {
            RedirectStandardOutput = true,
        })!;
        var output = await hoist.StandardOutput.ReadToEndAsync();
        await hoist.WaitForExitAsync();
        Assert.Equal(0, hoist.ExitCode);
        var match = System.Text.RegularExpressions.Regex.Match(output, @"^hoist (\d+\.\d+\.\d+\S*)\s*$");
        Assert.True(match.Success, $"hoist --version printed {output}");
        return match.Groups[1].Value;
    }

    /// <summary>
    /// Collects the stream's messages as they are read (<see cref="Progress{T}"/> would post them to
    /// the synchronization context, so some could arrive after the call returned).
    /// </summary>
    private sealed class Messages : IProgress<JSONMessage>
    {
        private readonly List<JSONMessage> _messages = [];

        public IReadOnlyList<JSONMessage> All
        {
            get
            {
                lock (_messages)
                {
                    return [.. _messages];
                }
            }
        }

        public void Report(JSONMessage value)
        {
            lock (_messages)
            {
                _messages.Add(value);
            }
        }
    }
}
