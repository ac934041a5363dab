using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Tree;

/// <summary>
/// A KBL's durable metadata, in grain storage: its role, range, children, epoch, genome and home. Never its
/// records: those live in the silo's <see cref="RecordStore"/>.
/// </summary>
[GenerateSerializer, Alias("kbl.KblState")]
public sealed class KblState
{
    [Id(0)] public KblRole Role { get; set; }

    [Id(1)] public KeyRange Range { get; set; } = KeyRange.All;

    [Id(2)] public List<ChildRef> Children { get; set; } = [];

    /// <summary>Taken anew by every activation and every change of shape; fences older activations.</summary>
    [Id(3)] public long Epoch { get; set; }

    [Id(4)] public Genome Genome { get; set; } = Genome.Default;

    /// <summary>The stable name of the silo whose disk holds this KBL's records.</summary>
    [Id(5)] public string? Home { get; set; }

    [Id(6)] public int Depth { get; set; }

    /// <summary>The generation (parent epoch) of the split that gave birth to this KBL, or of the merge that retired it.</summary>
    [Id(7)] public long Generation { get; set; }

    /// <summary>A split or merge that started and has not finished; a new activation completes it.</summary>
    [Id(8)] public Transition? Transition { get; set; }

    [Id(9)] public DateTimeOffset ShapeChangedAt { get; set; }

    /// <summary>The version clock a newly born child continues from (it then lives in the record store).</summary>
    [Id(10)] public long BirthClock { get; set; }
}

[GenerateSerializer, Alias("kbl.TransitionKind")]
public enum TransitionKind
{
    Split = 0,
    Merge = 1,
}

[GenerateSerializer, Immutable, Alias("kbl.Transition")]
public sealed record Transition(
    [property: Id(0)] TransitionKind Kind,
    [property: Id(1)] long Generation,
    [property: Id(2)] IReadOnlyList<ChildRef> Children);
