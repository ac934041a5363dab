namespace Kbl.Placement;

/// <summary>Who this silo is, for placement and for the KBLs it hosts: its stable name, node group and zone.</summary>
public sealed record SiloIdentity(string Name, string NodeGroup, string Zone)
{
    /// <summary>The silo metadata keys under which every silo publishes its identity.</summary>
    public const string NameKey = "kbl.silo-name";
    public const string NodeGroupKey = "kbl.node-group";
    public const string ZoneKey = "kbl.zone";

    public Dictionary<string, string> ToMetadata() => new()
    {
        [NameKey] = Name,
        [NodeGroupKey] = NodeGroup,
        [ZoneKey] = Zone,
    };
}
