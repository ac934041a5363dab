namespace Kbl.Colonies;

[GenerateSerializer, Alias("kbl.ColonyRegistryState")]
public sealed class ColonyRegistryState
{
    [Id(0)] public SortedSet<string> Colonies { get; set; } = new(StringComparer.Ordinal);
}
