using System.Collections.Concurrent;
using Aspire.Hosting.ApplicationModel;

namespace Hoist.Aspire.Hosting.Tests;

/// <summary>
/// A user's strategy: records each call (the annotation and the registry URL it was
/// given), then imports the image with the built-in import strategy, for real.
/// </summary>
public sealed class RecordingStrategy : IImageBuildStrategy
{
    public ConcurrentQueue<(DockerRegistryImageAnnotation Annotation, string RegistryUrl)> Calls { get; } = new();

    public Task BuildAsync(DockerRegistryImageAnnotation annotation, string registryUrl) =>
        throw new InvalidOperationException("the integration calls the context overload, which records and imports");

    public async Task BuildAsync(ImageBuildContext context)
    {
        Calls.Enqueue((context.Annotation, context.RegistryUrl));
        await new ImageImportStrategy().BuildAsync(context);
    }
}
