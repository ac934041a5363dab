namespace Kbl.Replication;

/// <summary>
/// The replica's side of the shard protocol, free of any transport: it applies a primary's log in order and only
/// from the epoch it was sealed for, and grants the primary a read lease with every append — a promise not to let a
/// newer primary seal it before the lease runs out, so that an old primary stops serving reads before a new one
/// serves writes. The lease granted so far is <paramref name="granted"/>, which outlives this core: a replica grain
/// activated again in the same process shares it with its earlier activations (<see cref="ReplicaLeases"/>); one
/// that starts afresh assumes it granted a lease just before, and honours it. A primary that hands its shard over
/// gives its leases back with its last appends (<see cref="AppendRequest.Release"/>).
/// </summary>
public sealed class ReplicaCore(IShardLog log, TimeSpan lease, GrantedLease granted)
{
    /// <summary>A core whose copy granted its last lease at <paramref name="startedAt"/> at the latest (minus a lease: none).</summary>
    public ReplicaCore(IShardLog log, TimeSpan lease, DateTimeOffset startedAt)
        : this(log, lease, new GrantedLease(startedAt + lease))
    {
    }

    /// <summary>A snapshot being installed (a rebuild in progress): its primary's epoch, its stream, the pages staged so far.</summary>
    private Staged? _staged;

    public IShardLog Log => log;

    public AppendReply Append(AppendRequest request, DateTimeOffset now)
    {
        lock (granted.Turn)
        {
            return Apply(request, now);
        }
    }

    public SealReply Seal(SealRequest request, DateTimeOffset now)
    {
        lock (granted.Turn)
        {
            return SealFor(request, now);
        }
    }

    private AppendReply Apply(AppendRequest request, DateTimeOffset now)
    {
        // Read once: only this turn applies entries to the copy, and a seal another grain makes meanwhile (a primary of
        // the shard on this silo) makes log.Apply refuse, as the check and the write are one step.
        var at = log.Position;
        if (request.Epoch != at.Sealed)
        {
            return Reply(request.Epoch < at.Sealed ? AppendStatus.Fenced : AppendStatus.Unsealed, at);
        }

        if (request.PrevSeq > at.Applied)
        {
            return Reply(AppendStatus.Gap, at);
        }

        // The request overlaps what is applied here: the overlap must be the same writes (same epochs).
        // The epochs of the entries it resends are read together (each on its own would be a seek and a segment decoded).
        var resent = request.Entries.Count(e => e.Seq <= at.Applied);
        var kept = resent > 1 ? log.After(request.PrevSeq, resent).ToDictionary(e => e.Seq, e => e.Epoch) : null;
        if (EpochAt(request.PrevSeq) is { } prevEpoch && prevEpoch != request.PrevEpoch)
        {
            return Reply(AppendStatus.Diverged, at);
        }

        var fresh = new List<LogEntry>(request.Entries.Count);
        foreach (var entry in request.Entries)
        {
            if (entry.Seq <= at.Applied)
            {
                if (EpochAt(entry.Seq) is { } epoch && epoch != entry.Epoch)
                {
                    return Reply(AppendStatus.Diverged, at);
                }
            }
            else if (entry.Seq == at.Applied + 1 + fresh.Count)
            {
                fresh.Add(entry);
            }
            else
            {
                return Reply(AppendStatus.Gap, at);
            }
        }

        if (fresh.Count > 0 && !log.Apply(request.Epoch, fresh))
        {
            return Reply(AppendStatus.Fenced, log.Position);
        }

        // The primary of the epoch this copy is sealed for is the only one a lease still in effect can protect (a seal
        // for it waited out any older one): when it hands the shard over it gives the lease back, so the next primary
        // seals this copy at once.
        if (request.Release)
        {
            granted.GiveBack(now);
        }
        else
        {
            granted.Extend(now + lease);
        }

        return new AppendReply(AppendStatus.Ok, at.Sealed, at.Applied + fresh.Count);

        long? EpochAt(long seq) => at.KnownEpochAt(seq) ?? (kept is not null && kept.TryGetValue(seq, out var epoch) ? epoch : log.EpochAt(seq));
    }

    private static AppendReply Reply(AppendStatus status, CopyPosition at) => new(status, at.Sealed, at.Applied);

    private SealReply SealFor(SealRequest request, DateTimeOffset now)
    {
        var at = log.Position;
        if (request.Epoch < at.Sealed)
        {
            return new SealReply(SealStatus.Fenced, at.Sealed, at.Applied, at.LastEpoch, TimeSpan.Zero);
        }

        if (request.Epoch > at.Sealed)
        {
            if (granted.Until is var until && now < until)
            {
                return new SealReply(SealStatus.Wait, at.Sealed, at.Applied, at.LastEpoch, until - now);
            }

            log.Seal(request.Epoch);
            at = log.Position;
        }

        return new SealReply(SealStatus.Sealed, at.Sealed, at.Applied, at.LastEpoch, TimeSpan.Zero, log.Disk);
    }

    /// <summary>
    /// Starts taking a snapshot from the primary of <paramref name="epoch"/> (a rebuild), as stream
    /// <paramref name="stream"/>; it replaces an unfinished one. False when sealed for a newer epoch.
    /// </summary>
    public bool BeginInstall(long epoch, long stream)
    {
        if (epoch < log.SealedEpoch)
        {
            return false;
        }

        DropInstall();
        _staged = new Staged(epoch, stream, log.BeginInstall());
        return true;
    }

    /// <summary>
    /// Stages page <paramref name="index"/> of the stream: false unless it is the stream under way and the page that
    /// comes next (a late or repeated message of an earlier stream, or a page out of order, is refused, and that
    /// stream fails).
    /// </summary>
    public bool InstallPage(long epoch, long stream, int index, IReadOnlyList<(byte[] Key, byte[] Value, long Version)> records)
    {
        if (_staged is not { } staged || staged.Epoch != epoch || staged.Stream != stream || staged.Pages != index)
        {
            return false;
        }

        try
        {
            staged.Install.Add(records);
        }
        catch
        {
            DropInstall();
            throw;
        }

        staged.Pages++;
        return true;
    }

    /// <summary>Replaces this copy with the stream's <paramref name="pages"/> pages (all of them, and no other); false otherwise, or when sealed for another epoch.</summary>
    public bool EndInstall(long epoch, long stream, int pages, long appliedSeq, long lastEpoch)
    {
        if (_staged is not { } staged || staged.Epoch != epoch || staged.Stream != stream || staged.Pages != pages)
        {
            return false;
        }

        _staged = null;
        using (staged.Install)
        {
            return staged.Install.Finish(epoch, appliedSeq, lastEpoch);
        }
    }

    /// <summary>Drops an unfinished install (this copy stops: its staged pages go).</summary>
    public void DropInstall()
    {
        _staged?.Install.Dispose();
        _staged = null;
    }

    /// <summary>Drops an unfinished install of <paramref name="epoch"/> or an older one: its late end must not bring back a copy dropped meanwhile.</summary>
    public void DropInstall(long epoch)
    {
        if (_staged?.Epoch <= epoch)
        {
            DropInstall();
        }
    }

    private sealed class Staged(long epoch, long stream, IShardInstall install)
    {
        public long Epoch { get; } = epoch;

        public long Stream { get; } = stream;

        public IShardInstall Install { get; } = install;

        public int Pages { get; set; }
    }
}
