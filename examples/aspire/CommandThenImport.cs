using System.Diagnostics;
using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Logging;

/// <summary>
/// A strategy of the example's own, what hoist.yaml calls a command image: run a
/// command that leaves an OCI image layout in $HOIST_OUTPUT (the image's
/// <c>oci:</c> source), then import that layout as the built-in import strategy does.
/// </summary>
/// <param name="command">Run with <c>sh -c</c> in the app host's folder, with HOIST_OUTPUT and REGISTRY set.</param>
/// <param name="onlyWhenMissing">Run the command only when the layout is not there yet (else it is emptied and remade).</param>
sealed class CommandThenImport(string command, bool onlyWhenMissing = false) : IImageBuildStrategy
{
    private readonly ImageImportStrategy _import = new();

    public Task BuildAsync(DockerRegistryImageAnnotation annotation, string registryUrl) =>
        throw new NotSupportedException("The app host calls BuildAsync(ImageBuildContext).");

    public async Task BuildAsync(ImageBuildContext context)
    {
        var source = context.Annotation.SourceImage ?? "";
        if (!source.StartsWith("oci:", StringComparison.Ordinal))
        {
            throw new ImageBuildException($"{context.Annotation.Key}: a command image needs an oci:DIR source, not '{source}'.");
        }
        var layout = source["oci:".Length..];
        if (onlyWhenMissing && File.Exists(Path.Combine(layout, "index.json")))
        {
            await _import.BuildAsync(context);
            return;
        }
        if (Directory.Exists(layout) && !onlyWhenMissing)
        {
            Directory.Delete(layout, recursive: true);
        }
        Directory.CreateDirectory(layout);

        await context.ReportStateAsync(DockerRegistryImageStates.Building);
        context.Logger.LogInformation("sh -c {Command}", command);
        var info = new ProcessStartInfo("sh")
        {
            ArgumentList = { "-c", command },
            WorkingDirectory = context.WorkingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["HOIST_OUTPUT"] = layout, ["REGISTRY"] = context.RegistryUrl },
        };
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync(context.CancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(context.CancellationToken);
        await process.WaitForExitAsync(context.CancellationToken);
        foreach (var line in ((await stdout) + (await stderr)).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            context.Logger.LogInformation("{Line}", line);
        }
        if (process.ExitCode != 0)
        {
            throw new ImageBuildException($"the command exited with code {process.ExitCode}: {(await stderr).Trim()}");
        }
        await _import.BuildAsync(context);
    }
}
