using Kbl.Keys;

namespace Kbl.Records;

/// <summary>
/// The answer of a KBL that no longer owns a key: its children (after a split) or nothing (it merged into its
/// parent, or is still being born): then the caller walks again from the colony's root.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.Moved")]
public sealed record Moved([property: Id(0)] long Epoch, [property: Id(1)] IReadOnlyList<ChildRef> Children)
{
    public static Moved WalkFromRoot(long epoch) => new(epoch, []);
}

/// <summary>A child KBL: its path (<c>r.0.3</c>) and the range it owns.</summary>
[GenerateSerializer, Immutable, Alias("kbl.ChildRef")]
public sealed record ChildRef([property: Id(0)] string Path, [property: Id(1)] KeyRange Range);
