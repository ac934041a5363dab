using Kbl.Keys;

namespace Kbl.Tree;

/// <summary>
/// One KBL as the tree view shows it, with its children. A <see cref="Collapsed"/> interior KBL stands for its
/// whole subtree (its feedback is the roll-up; its children were left out to keep the answer small). A hibernated
/// leaf (<see cref="Hibernation"/> set) holds its records in the cold tier, on no silo. <see cref="Silo"/> is where
/// it runs, or for a leaf activated away from its records (which it serves from nowhere else), its home: the silo
/// holding them.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.KblView")]
public sealed record KblView(
    [property: Id(0)] string Id,
    [property: Id(1)] string Path,
    [property: Id(2)] KeyRange Range,
    [property: Id(3)] KblRole Role,
    [property: Id(5)] long Epoch,
    [property: Id(6)] string Silo,
    [property: Id(7)] string NodeGroup,
    [property: Id(8)] Feedback Feedback,
    [property: Id(9)] IReadOnlyList<KblView> Children,
    [property: Id(10)] bool Collapsed = false,
    [property: Id(11)] KblReplicas? Replicas = null,
    [property: Id(12)] HibernationView? Hibernation = null);

/// <summary>
/// A mirrored leaf's copies: <see cref="Status"/> is <c>redundant</c> (every copy its genome asks for is in sync),
/// <c>rebuilding</c> (a member is being brought back) or <c>degraded</c> (too few silos); <see cref="InSync"/>
/// counts the primary's copy.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.KblReplicas")]
public sealed record KblReplicas(
    [property: Id(0)] string Status,
    [property: Id(1)] string Primary,
    [property: Id(2)] IReadOnlyList<KblReplica> Members,
    [property: Id(3)] int InSync,
    [property: Id(4)] int Wanted);

[GenerateSerializer, Immutable, Alias("kbl.KblReplica")]
public sealed record KblReplica([property: Id(0)] string Silo, [property: Id(1)] bool InSync);
