namespace Kbl.Tree;

[GenerateSerializer, Alias("kbl.KblRole")]
public enum KblRole
{
    /// <summary>Never created (a colony whose root has this role does not exist).</summary>
    None = 0,

    /// <summary>Born by a split, receiving its records; does not serve until its parent commits it.</summary>
    Pending = 1,

    /// <summary>Owns a shard and serves it.</summary>
    Leaf = 2,

    /// <summary>Routes to and aggregates over its children.</summary>
    Interior = 3,

    /// <summary>Merged back into its parent: hands its records over and no longer serves.</summary>
    Retired = 4,
}
