namespace Kbl.Tree;

/// <summary>
/// The outcome of moving a subtree: how many KBLs and records moved (0 when already there), and how many mirrored
/// leaves are on their way (their copies are being built in the new group; each hands its shard to one of them once
/// they are in sync, and copies no record itself).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.MoveResult")]
public sealed record MoveResult(
    [property: Id(0)] bool Found,
    [property: Id(1)] int Kbls,
    [property: Id(2)] long Records,
    [property: Id(3)] string? Error = null,
    [property: Id(4)] int Moving = 0);
