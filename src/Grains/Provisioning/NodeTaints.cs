namespace Kbl.Provisioning;

/// <summary>Taints written as <c>key=value:EFFECT</c> in configuration.</summary>
public static class NodeTaints
{
    public static readonly IReadOnlySet<string> Effects = new HashSet<string>(StringComparer.Ordinal) { "NO_SCHEDULE", "NO_EXECUTE", "PREFER_NO_SCHEDULE" };

    public static bool TryParse(string text, out NodeTaint taint)
    {
        taint = new NodeTaint("", "", "");
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !Effects.Contains(text[(colon + 1)..]))
        {
            return false;
        }

        var pair = text[..colon].Split('=', 2);
        if (pair[0].Length == 0)
        {
            return false;
        }

        taint = new NodeTaint(pair[0], pair.Length > 1 ? pair[1] : "", text[(colon + 1)..]);
        return true;
    }
}
