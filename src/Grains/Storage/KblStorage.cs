using Kbl.Tree;
using Orleans.Storage;

namespace Kbl.Storage;

/// <summary>The grain storage provider that holds Kbl's metadata (tree shape, epochs, genomes, homes).</summary>
public static class KblStorage
{
    public const string Name = "kbl";

    /// <summary>The state name under which a KBL's <see cref="Tree.KblState"/> is stored.</summary>
    public const string KblStateName = "kbl";

    /// <summary>The KBL <paramref name="kbl"/>'s state as last written (an empty one when it has none), read without activating it.</summary>
    public static async Task<KblState> ReadKblState(this IGrainStorage storage, GrainId kbl)
    {
        var stored = new GrainState<KblState>(new KblState());
        await storage.ReadStateAsync(KblStateName, kbl, stored);
        return stored.State ?? new KblState();
    }
}
