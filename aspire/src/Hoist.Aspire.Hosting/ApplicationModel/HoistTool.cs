using System.Diagnostics;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>
/// The hoist binary this app host runs: where it is and which version it is.
/// The integration talks to hoist only through its command line, as any user would.
/// </summary>
/// <remarks>
/// hoist is looked up in this order: the <c>HOIST_PATH</c> setting (an environment
/// variable or any configuration source of the app host), the <c>HoistPath</c>
/// MSBuild property of the app host project (stamped into its assembly by this
/// package's build targets), then <c>hoist</c> on <c>PATH</c>.
/// Instances are immutable and safe for concurrent use.
/// </remarks>
public sealed partial class HoistTool
{
    /// <summary>The configuration key and environment variable that name the hoist binary.</summary>
    public const string PathSetting = "HOIST_PATH";

    /// <summary>The assembly metadata key the <c>HoistPath</c> MSBuild property is stamped under.</summary>
    public const string PathMetadataKey = "HoistPath";

    private static readonly TimeSpan s_versionTimeout = TimeSpan.FromSeconds(15);

    internal HoistTool(string path, Version version)
    {
        Path = path;
        Version = version;
    }

    /// <summary>The oldest hoist this integration works with (the first with <c>hoist engine</c>).</summary>
    public static Version MinimumVersion { get; } = new(0, 2, 0);

    /// <summary>The absolute path of the binary.</summary>
    public string Path { get; }

    /// <summary>The version <c>hoist --version</c> printed.</summary>
    public Version Version { get; }

    /// <summary>
    /// Where hoist would be taken from, without running it: the path (or
    /// <see langword="null"/> when none was found) and a phrase saying where it came from.
    /// </summary>
    /// <param name="configuration">The app host's configuration (holds <c>HOIST_PATH</c>).</param>
    /// <param name="appHostAssembly">The app host's assembly (may carry the <c>HoistPath</c> metadata).</param>
    internal static (string? Path, string Source) Locate(IConfiguration configuration, Assembly? appHostAssembly)
    {
        if (configuration[PathSetting] is { Length: > 0 } configured)
        {
            return (System.IO.Path.GetFullPath(configured), $"{PathSetting}");
        }

        var stamped = appHostAssembly?
            .GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == PathMetadataKey)?.Value;
        if (!string.IsNullOrEmpty(stamped))
        {
            return (stamped, "the HoistPath MSBuild property");
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator))
        {
            if (dir.Length == 0)
            {
                continue;
            }
            var candidate = System.IO.Path.Combine(dir, "hoist");
            if (File.Exists(candidate))
            {
                return (System.IO.Path.GetFullPath(candidate), "PATH");
            }
        }
        return (null, "PATH");
    }

    /// <summary>
    /// The hoist binary at <paramref name="path"/>, once <c>hoist --version</c> says it is at
    /// least <see cref="MinimumVersion"/> (for running the built-in strategies on their own).
    /// </summary>
    /// <param name="path">The binary.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The checked tool.</returns>
    /// <exception cref="DistributedApplicationException">hoist is missing, does not run, or is too old.</exception>
    public static Task<HoistTool> ResolveAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return CheckAsync(System.IO.Path.GetFullPath(path), "the given path", cancellationToken);
    }

    /// <summary>
    /// Runs <c>hoist --version</c> at <paramref name="path"/> and checks it is at least
    /// <see cref="MinimumVersion"/>.
    /// </summary>
    /// <param name="path">The binary, as <see cref="Locate"/> found it (<see langword="null"/>: none).</param>
    /// <param name="source">Where the path came from, for the error message.</param>
    /// <param name="cancellationToken">Cancels the check.</param>
    /// <returns>The checked tool.</returns>
    /// <exception cref="DistributedApplicationException">hoist is missing, does not run, or is too old.</exception>
    internal static async Task<HoistTool> CheckAsync(string? path, string source, CancellationToken cancellationToken)
    {
        const string hint = $"set {PathSetting} (environment or configuration) or the HoistPath MSBuild property to the hoist binary, or put hoist on PATH";
        if (path is null)
        {
            throw new DistributedApplicationException($"hoist was not found on PATH: {hint}.");
        }
        if (!File.Exists(path))
        {
            throw new DistributedApplicationException($"hoist was not found: {source} names '{path}', which does not exist; {hint}.");
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(s_versionTimeout);
        HoistRunResult result;
        try
        {
            result = await RunProcessAsync(path, ["--version"], workingDirectory: null, onLine: null, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new DistributedApplicationException($"'{path} --version' did not answer within {s_versionTimeout.TotalSeconds:0} s.");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or IOException or UnauthorizedAccessException)
        {
            throw new DistributedApplicationException($"'{path}' (from {source}) could not be run: {ex.Message}.", ex);
        }

        var output = string.Join('\n', result.Lines);
        var match = VersionLine().Match(output);
        if (result.ExitCode != 0 || !match.Success)
        {
            throw new DistributedApplicationException(
                $"'{path} --version' (from {source}) did not print 'hoist X.Y.Z' (exit code {result.ExitCode}): {Tail(output)}");
        }
        var version = new Version(int.Parse(match.Groups[1].Value), int.Parse(match.Groups[2].Value), int.Parse(match.Groups[3].Value));
        if (version < MinimumVersion)
        {
            throw new DistributedApplicationException(
                $"hoist {version} at '{path}' (from {source}) is too old: this integration needs hoist {MinimumVersion} or newer.");
        }
        return new HoistTool(path, version);
    }

    /// <summary>
    /// Runs hoist with <paramref name="arguments"/> and waits for it to exit. Every line it
    /// prints (stdout and stderr) goes to <paramref name="onLine"/> as it arrives.
    /// Cancelling kills the process and its children and throws <see cref="OperationCanceledException"/>.
    /// </summary>
    /// <param name="arguments">The arguments, one per element (no shell quoting).</param>
    /// <param name="workingDirectory">The directory relative paths are resolved against.</param>
    /// <param name="onLine">Receives each output line; called from thread-pool threads, one line at a time.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The exit code and the last lines of output.</returns>
    public Task<HoistRunResult> RunAsync(IReadOnlyList<string> arguments, string workingDirectory, Action<string>? onLine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        ArgumentException.ThrowIfNullOrEmpty(workingDirectory);
        return RunProcessAsync(Path, arguments, workingDirectory, onLine, cancellationToken);
    }

    private static async Task<HoistRunResult> RunProcessAsync(
        string path, IReadOnlyList<string> arguments, string? workingDirectory, Action<string>? onLine, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var tail = new Queue<string>();
        var gate = new object();
        void OnData(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is null)
            {
                return;
            }
            lock (gate)
            {
                tail.Enqueue(e.Data);
                if (tail.Count > HoistRunResult.MaxLines)
                {
                    tail.Dequeue();
                }
                onLine?.Invoke(e.Data);
            }
        }

        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += OnData;
        process.ErrorDataReceived += OnData;
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited on its own meanwhile.
            }
            throw;
        }
        lock (gate)
        {
            return new HoistRunResult(process.ExitCode, [.. tail]);
        }
    }

    private static string Tail(string output) =>
        output.Length <= 400 ? output.Trim() : "..." + output[^400..].Trim();

    [GeneratedRegex(@"^hoist (\d+)\.(\d+)\.(\d+)", RegexOptions.Multiline)]
    private static partial Regex VersionLine();
}

/// <summary>What one hoist run ended with.</summary>
/// <param name="ExitCode">The process's exit code (0: success).</param>
/// <param name="Lines">The last lines it printed, at most <see cref="MaxLines"/>, stdout and stderr interleaved.</param>
public sealed record HoistRunResult(int ExitCode, IReadOnlyList<string> Lines)
{
    /// <summary>How many lines of output a result keeps.</summary>
    public const int MaxLines = 200;

    /// <summary>
    /// What went wrong, as hoist said it: its last <c>ERROR: ...</c> line (a build), else its
    /// last <c>hoist: ...</c> line (any other command), else the last three lines.
    /// </summary>
    public string ErrorMessage()
    {
        foreach (var prefix in new[] { "ERROR: ", "hoist: " })
        {
            var line = Lines.LastOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            if (line is not null)
            {
                return line[prefix.Length..];
            }
        }
        return LastLines(3);
    }

    /// <summary>The last <paramref name="count"/> non-empty lines, joined by newlines (for error messages).</summary>
    /// <param name="count">How many lines.</param>
    public string LastLines(int count) =>
        string.Join('\n', Lines.Where(l => l.Trim().Length > 0).TakeLast(count));
}
