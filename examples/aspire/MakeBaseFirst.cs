using Aspire.Hosting.ApplicationModel;
using Microsoft.Extensions.Logging;

/// <summary>
/// A strategy of the example's own: the busybox base is an OCI layout that
/// ../make-base.sh makes offline (from Debian's busybox-static); when it is
/// missing, this runs the script first, then imports the layout as the built-in
/// import strategy does.
/// </summary>
/// <param name="script">The maker, relative to the app host's folder.</param>
/// <param name="layout">The layout it writes, relative to the app host's folder.</param>
sealed class MakeBaseFirst(string script, string layout) : IImageBuildStrategy
{
    private readonly ImageImportStrategy _import = new();

    public Task BuildAsync(DockerRegistryImageAnnotation annotation, string registryUrl) =>
        throw new NotSupportedException("The app host calls BuildAsync(ImageBuildContext).");

    public async Task BuildAsync(ImageBuildContext context)
    {
        var layoutPath = Path.Combine(context.WorkingDirectory, layout);
        if (!File.Exists(Path.Combine(layoutPath, "index.json")))
        {
            context.Logger.LogInformation("{Layout} is missing; running {Script}", layout, script);
            using var maker = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("bash")
            {
                ArgumentList = { Path.Combine(context.WorkingDirectory, script), layoutPath },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var output = await maker.StandardError.ReadToEndAsync(context.CancellationToken);
            await maker.WaitForExitAsync(context.CancellationToken);
            if (maker.ExitCode != 0)
            {
                throw new ImageBuildException($"{script} failed (exit code {maker.ExitCode}): {output.Trim()}");
            }
        }
        await _import.BuildAsync(context);
    }
}
