using System.Collections.Concurrent;

namespace Kbl.Placement;

/// <summary>The KBL activations of this silo.</summary>
public sealed class LocalKbls
{
    private readonly ConcurrentDictionary<string, ILocalKbl> _active = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private bool _draining;
    private int _importing;

    /// <summary>Moves of KBLs to this silo that began (their records are arriving) and have not ended.</summary>
    public int Importing
    {
        get
        {
            lock (_lock)
            {
                return _importing;
            }
        }
    }

    /// <summary>From now on this silo takes no KBL in; the moves to it already under way are counted in <see cref="Importing"/>.</summary>
    public void StartDraining()
    {
        lock (_lock)
        {
            _draining = true;
        }
    }

    /// <summary>A KBL starts moving here: false (and not counted) once the silo drains.</summary>
    public bool TryBeginImport()
    {
        lock (_lock)
        {
            if (_draining)
            {
                return false;
            }

            _importing++;
            return true;
        }
    }

    /// <summary>A move to this silo ended (or was given up).</summary>
    public void EndImport()
    {
        lock (_lock)
        {
            _importing = Math.Max(0, _importing - 1);
        }
    }

    public void Add(ILocalKbl kbl) => _active[kbl.Id] = kbl;

    public void Remove(ILocalKbl kbl) => _active.TryRemove(new KeyValuePair<string, ILocalKbl>(kbl.Id, kbl));

    public IReadOnlyList<ILocalKbl> Snapshot() => [.. _active.Values];
}
