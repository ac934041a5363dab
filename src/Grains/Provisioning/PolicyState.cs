namespace Kbl.Provisioning;

/// <summary>What the provisioning policy remembers between steps; persisted with the provisioning grain.</summary>
[GenerateSerializer, Alias("kbl.PolicyState")]
public sealed class PolicyState
{
    [Id(0)] public long Generation { get; set; }

    [Id(1)] public List<GroupTrack> Groups { get; set; } = [];

    [Id(2)] public List<SubtreeAssignment> Assignments { get; set; } = [];

    /// <summary>The last desired state's sizes and contents: a new generation is made only when they change.</summary>
    [Id(3)] public string Fingerprint { get; set; } = "";

    public GroupTrack? Track(string group) => Groups.Find(g => g.Name == group);
}

/// <summary>One group's size and the memory its scale-down needs: since when its need stayed below it, and the highest need meanwhile.</summary>
[GenerateSerializer, Alias("kbl.GroupTrack")]
public sealed class GroupTrack
{
    [Id(0)] public string Name { get; set; } = "";

    [Id(1)] public int Desired { get; set; }

    /// <summary>When the group's need was last at or above <see cref="Desired"/>; scale-down waits a cool-down from here.</summary>
    [Id(2)] public DateTimeOffset LastAtOrAbove { get; set; }

    /// <summary>The highest need since <see cref="LastAtOrAbove"/>: what the group shrinks to.</summary>
    [Id(3)] public int PeakBelow { get; set; }

    /// <summary>A group made for one hot subtree (removed again when the subtree cools).</summary>
    [Id(4)] public bool Dedicated { get; set; }
}

/// <summary>A hot subtree given a node group of its own, taken from <see cref="FromGroup"/>.</summary>
[GenerateSerializer, Alias("kbl.SubtreeAssignment")]
public sealed class SubtreeAssignment
{
    [Id(0)] public string Colony { get; set; } = "";

    [Id(1)] public string Path { get; set; } = "";

    [Id(2)] public string NodeGroup { get; set; } = "";

    [Id(3)] public string FromGroup { get; set; } = "";

    /// <summary>Since when the subtree would fit back into its old group; it returns after a cool-down of that.</summary>
    [Id(4)] public DateTimeOffset? FitsBackSince { get; set; }

    public string Subtree => $"{Colony}/{Path}";
}
