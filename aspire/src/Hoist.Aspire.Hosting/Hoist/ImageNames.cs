using System.Text;
using System.Text.RegularExpressions;

namespace Aspire.Hosting.Hoist;

/// <summary>
/// The OCI distribution spec's name and tag grammar (distribution-spec,
/// "Pulling manifests"), checked where an app host declares an image so that a
/// mistake fails at declaration and names what is wrong.
/// </summary>
internal static partial class ImageNames
{
    /// <summary>One path component of a repository name.</summary>
    public const string ComponentPattern = @"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*";

    [GeneratedRegex("^" + ComponentPattern + "$")]
    private static partial Regex Component();

    [GeneratedRegex("^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")]
    private static partial Regex TagGrammar();

    // Docker's volume-name grammar, which keeps a storage name one plain folder name.
    [GeneratedRegex("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")]
    private static partial Regex VolumeGrammar();

    /// <summary>Throws unless <paramref name="value"/> is one repository path component.</summary>
    public static void ThrowIfNotComponent(string value, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(value, paramName);
        if (value.Contains('/'))
        {
            throw new ArgumentException(
                $"'{value}' is not one repository path component: it must not contain '/' (put the path in the image name prefix).",
                paramName);
        }
        if (!Component().IsMatch(value))
        {
            throw new ArgumentException(ComponentError(value, value), paramName);
        }
    }

    /// <summary>Throws unless <paramref name="value"/> is components separated by '/'.</summary>
    public static void ThrowIfNotPath(string value, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(value, paramName);
        foreach (var component in value.Split('/'))
        {
            if (component.Length == 0)
            {
                throw new ArgumentException(
                    $"'{value}' is not a valid repository path: it has an empty component (a leading, trailing or doubled '/').",
                    paramName);
            }
            if (!Component().IsMatch(component))
            {
                throw new ArgumentException(ComponentError(value, component), paramName);
            }
        }
    }

    /// <summary>Throws unless <paramref name="value"/> is a valid tag.</summary>
    public static void ThrowIfNotTag(string value, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(value, paramName);
        if (!TagGrammar().IsMatch(value))
        {
            throw new ArgumentException(
                $"'{value}' is not a valid tag: a tag is 1 to 128 of [a-zA-Z0-9_.-] and does not start with '.' or '-'.",
                paramName);
        }
    }

    /// <summary>Throws unless <paramref name="value"/> can name a storage folder.</summary>
    public static void ThrowIfNotVolumeName(string value, string paramName)
    {
        ArgumentException.ThrowIfNullOrEmpty(value, paramName);
        if (!VolumeGrammar().IsMatch(value) || value is "." or "..")
        {
            throw new ArgumentException(
                $"'{value}' is not a valid volume name: use letters, digits, '_', '.' and '-', starting with a letter or digit.",
                paramName);
        }
    }

    /// <summary>
    /// A resource name (letters, digits and single hyphens, starting with a
    /// letter) made from <paramref name="parts"/>.
    /// </summary>
    public static string ToResourceName(params string[] parts)
    {
        var builder = new StringBuilder();
        foreach (var ch in string.Join('-', parts))
        {
            var c = char.IsAsciiLetterOrDigit(ch) ? char.ToLowerInvariant(ch) : '-';
            if (c == '-' && (builder.Length == 0 || builder[^1] == '-'))
            {
                continue;
            }
            builder.Append(c);
        }
        var name = builder.ToString().TrimEnd('-');
        if (name.Length == 0 || !char.IsAsciiLetter(name[0]))
        {
            name = "image-" + name;
        }
        return name.Length <= 64 ? name : name[..64].TrimEnd('-');
    }

    private static string ComponentError(string value, string component) =>
        $"'{value}' is not a valid repository name: '{component}' must match {ComponentPattern} " +
        "(lowercase letters and digits, separated by '.', '_', '__' or dashes; the OCI distribution spec's grammar).";
}
