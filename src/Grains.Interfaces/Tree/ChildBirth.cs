using Kbl.Colonies;
using Kbl.Keys;

namespace Kbl.Tree;

/// <summary>
/// What a dividing parent hands a child: its range and genome, the split's generation (the parent's epoch, so a
/// repeated birth after a crash is recognised), and the version clock the child continues from.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.ChildBirth")]
public sealed record ChildBirth(
    [property: Id(0)] KeyRange Range,
    [property: Id(1)] Genome Genome,
    [property: Id(2)] int Depth,
    [property: Id(3)] long Generation,
    [property: Id(4)] long Clock,
    [property: Id(5)] string ParentSilo);

/// <summary>The child's reply: the stable name of the silo that now holds it, and whether it was already committed.</summary>
[GenerateSerializer, Immutable, Alias("kbl.BirthReply")]
public sealed record BirthReply([property: Id(0)] string Silo, [property: Id(1)] bool Committed);

/// <summary>
/// A child's reply to its merging parent: whether it retired (only a leaf can), the silo holding its records and
/// its version clock.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.RetireReply")]
public sealed record RetireReply([property: Id(0)] bool Retired, [property: Id(1)] string Silo, [property: Id(2)] long Clock);
