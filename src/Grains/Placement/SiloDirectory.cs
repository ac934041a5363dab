using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Kbl.Placement;

/// <summary>
/// Maps Orleans silo addresses (new at every restart) to the silos' stable identities, from the silo metadata
/// every Kbl silo publishes. A silo that has just joined may not show its metadata yet: <see cref="Resolve"/>
/// waits a little for it.
/// </summary>
public sealed class SiloDirectory(ISiloMetadataCache metadata, TimeProvider time)
{
    private static readonly TimeSpan MetadataWait = TimeSpan.FromSeconds(5);

    public SiloIdentity? Find(SiloAddress address)
    {
        var values = metadata.GetSiloMetadata(address).Metadata;
        return values.TryGetValue(SiloIdentity.NameKey, out var name)
            ? new SiloIdentity(name, values.GetValueOrDefault(SiloIdentity.NodeGroupKey, "default"), values.GetValueOrDefault(SiloIdentity.ZoneKey, "local"))
            : null;
    }

    /// <summary>The identities of <paramref name="silos"/>; waits up to a few seconds for metadata still in flight.</summary>
    public async Task<IReadOnlyList<(SiloAddress Address, SiloIdentity Identity)>> Resolve(IReadOnlyList<SiloAddress> silos)
    {
        var deadline = time.GetUtcNow() + MetadataWait;
        while (true)
        {
            var found = silos.Select(s => (Address: s, Identity: Find(s))).ToList();
            if (found.All(f => f.Identity is not null) || time.GetUtcNow() >= deadline)
            {
                return [.. found.Where(f => f.Identity is not null).Select(f => (f.Address, f.Identity!))];
            }

            await Task.Delay(TimeSpan.FromMilliseconds(50), time);
        }
    }
}
