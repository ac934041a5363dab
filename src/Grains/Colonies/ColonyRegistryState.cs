namespace Kbl.Colonies;

[GenerateSerializer, Alias("kbl.ColonyRegistryState")]
public sealed class ColonyRegistryState
{
    /// <summary>Every colony that exists, those being deleted included (they count against the cap until they are gone).</summary>
    [Id(0)] public SortedSet<string> Colonies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The colonies whose delete has started and not finished.</summary>
    [Id(1)] public SortedSet<string> Deleting { get; set; } = new(StringComparer.Ordinal);
}
