using Kbl.Grains;
using Kbl.Tree;

namespace Kbl.Tests.Cluster;

public static class TreeWalk
{
    /// <summary>The whole tree below a KBL.</summary>
    public static Task<KblView> GetTree(this IKblGrain kbl) => kbl.GetTree(int.MaxValue, hotPath: false);

    /// <summary>This KBL's own view (no children); null while it cannot be reached (its silo down, a call lost).</summary>
    public static async Task<KblView?> ViewOrNull(this IKblGrain kbl)
    {
        try
        {
            return await kbl.GetTree(0, hotPath: false);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            return null;
        }
    }

    public static IEnumerable<KblView> All(KblView view) => view.Children.SelectMany(All).Prepend(view);

    public static IEnumerable<KblView> Leaves(KblView view) => All(view).Where(v => v.Role == KblRole.Leaf);

    public static int Height(KblView view) => view.Children.Count == 0 ? 0 : 1 + view.Children.Max(Height);
}
