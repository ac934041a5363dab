using System.Text.RegularExpressions;

namespace Kbl.Colonies;

/// <summary>Colony names and KBL ids: <c>{colony}/{path}</c>, path <c>r</c>, <c>r.0</c>, <c>r.0.3</c>.</summary>
public static partial class ColonyNames
{
    public const string RootPath = "r";

    public static bool IsValid(string? colony) => colony is not null && Pattern().IsMatch(colony);

    public static string KblId(string colony, string path) => $"{colony}/{path}";

    public static (string Colony, string Path) Parse(string kblId)
    {
        var slash = kblId.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? throw new FormatException($"'{kblId}' is not a KBL id") : (kblId[..slash], kblId[(slash + 1)..]);
    }

    public static string ChildPath(string path, int index) => $"{path}.{index}";

    public static int Depth(string path) => path.Count(c => c == '.');

    [GeneratedRegex("^[a-z0-9-]{1,63}$")]
    private static partial Regex Pattern();
}
