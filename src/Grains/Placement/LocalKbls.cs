using System.Collections.Concurrent;

namespace Kbl.Placement;

/// <summary>The KBL activations of this silo.</summary>
public sealed class LocalKbls
{
    private readonly ConcurrentDictionary<string, ILocalKbl> _active = new(StringComparer.Ordinal);
    private volatile bool _draining;

    /// <summary>Set when the silo starts handing its KBLs away: from then on it takes no KBL in (its agent refuses the moves).</summary>
    public bool Draining
    {
        get => _draining;
        set => _draining = value;
    }

    public void Add(ILocalKbl kbl) => _active[kbl.Id] = kbl;

    public void Remove(ILocalKbl kbl) => _active.TryRemove(new KeyValuePair<string, ILocalKbl>(kbl.Id, kbl));

    public IReadOnlyList<ILocalKbl> Snapshot() => [.. _active.Values];
}
