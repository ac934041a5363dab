namespace Kbl.Tree;

/// <summary>
/// What one silo holds: its identity, its KBL activations and the records of its active leaves; whether it is
/// draining (stopping: it hands its KBLs away and takes none in).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.SiloStats")]
public sealed record SiloStats(
    [property: Id(0)] string Silo,
    [property: Id(1)] string Address,
    [property: Id(2)] string NodeGroup,
    [property: Id(3)] string Zone,
    [property: Id(4)] int KblActivations,
    [property: Id(5)] int Leaves,
    [property: Id(6)] int LeavesInGroup,
    [property: Id(7)] long Records,
    [property: Id(8)] long Bytes,
    [property: Id(9)] DateTimeOffset At,
    [property: Id(10)] bool Draining = false);
