namespace Kbl.Storage;

/// <summary>The grain storage provider that holds Kbl's metadata (tree shape, epochs, genomes, homes).</summary>
public static class KblStorage
{
    public const string Name = "kbl";

    /// <summary>The state name under which a KBL's <see cref="Tree.KblState"/> is stored.</summary>
    public const string KblStateName = "kbl";
}
