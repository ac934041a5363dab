namespace Kbl.Tree;

/// <summary>The outcome of moving a subtree: how many KBLs and records moved (0 when already there).</summary>
[GenerateSerializer, Immutable, Alias("kbl.MoveResult")]
public sealed record MoveResult(
    [property: Id(0)] bool Found,
    [property: Id(1)] int Kbls,
    [property: Id(2)] long Records,
    [property: Id(3)] string? Error = null);
