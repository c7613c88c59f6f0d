using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Hoist.Aspire.Hosting.Tests;

/// <summary>
/// What every test shares: the hoist binary under test, a private hoist home and
/// Docker config (so no test reads or writes the user's), the repository's example
/// Dockerfiles and an offline busybox base image (an OCI layout).
/// </summary>
/// <remarks>
/// hoist is <c>HOIST_PATH</c> when set (<c>./dev test</c> sets it to the binary it built),
/// else <c>build/cli/hoist</c> of the repository this test project sits in.
/// </remarks>
internal static class TestEnvironment
{
    private static readonly Lazy<string> s_baseLayout = new(MakeBaseLayout);

    /// <summary>The repository's root (the folder with <c>dev</c> and <c>CMakeLists.txt</c>).</summary>
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>The hoist binary the tests run.</summary>
    public static string HoistPath { get; } = FindHoist();

    /// <summary>A directory private to this test run, removed at exit.</summary>
    public static string Root { get; } = Directory.CreateTempSubdirectory("hoist-aspire-tests-").FullName;

    /// <summary>The example app's context (a multi-stage Dockerfile with a RUN step).</summary>
    public static string ExampleApp => Path.Combine(RepositoryRoot, "examples", "app");

    /// <summary>The example web context (one stage, a COPY).</summary>
    public static string ExampleWeb => Path.Combine(RepositoryRoot, "examples", "web");

    /// <summary>An OCI layout of busybox (tag <c>latest</c>), made once per run.</summary>
    public static string BaseLayout => s_baseLayout.Value;

    [ModuleInitializer]
    internal static void Initialize()
    {
        // Process-wide, inherited by every hoist the integration runs.
        Environment.SetEnvironmentVariable("HOIST_HOME", Directory.CreateDirectory(Path.Combine(Root, "hoist-home")).FullName);
        Environment.SetEnvironmentVariable("DOCKER_CONFIG", Directory.CreateDirectory(Path.Combine(Root, "docker-config")).FullName);
        Environment.SetEnvironmentVariable(global::Aspire.Hosting.ApplicationModel.HoistTool.PathSetting, HoistPath);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        };
    }

    /// <summary>A new empty directory under <see cref="Root"/>.</summary>
    public static string NewDirectory(string name) =>
        Directory.CreateDirectory(Path.Combine(Root, $"{name}-{Guid.NewGuid():N}"[..(name.Length + 9)])).FullName;

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "dev")) && Directory.Exists(Path.Combine(dir.FullName, "aspire")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"The repository root was not found above {AppContext.BaseDirectory}.");
    }

    private static string FindHoist()
    {
        var configured = Environment.GetEnvironmentVariable(global::Aspire.Hosting.ApplicationModel.HoistTool.PathSetting);
        var path = string.IsNullOrEmpty(configured) ? Path.Combine(RepositoryRoot, "build", "cli", "hoist") : Path.GetFullPath(configured);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"hoist was not found at {path}: build it (cmake --build build) or set HOIST_PATH.");
        }
        return path;
    }

    private static string MakeBaseLayout()
    {
        var layout = Path.Combine(Root, "base");
        var script = Path.Combine(RepositoryRoot, "testdata", "make-base-image.sh");
        using var maker = Process.Start(new ProcessStartInfo("bash")
        {
            ArgumentList = { script, layout, "latest" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stderr = maker.StandardError.ReadToEndAsync();
        maker.StandardOutput.ReadToEnd();
        maker.WaitForExit();
        if (maker.ExitCode != 0 || !File.Exists(Path.Combine(layout, "index.json")))
        {
            throw new InvalidOperationException($"{script} failed (exit code {maker.ExitCode}): {stderr.Result}");
        }
        return layout;
    }
}
