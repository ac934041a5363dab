namespace Kbl.Replication;

/// <summary>
/// A primary's writes for a replica (or, with no entries, a heartbeat that renews its read lease). The replica
/// takes them only from the epoch it was sealed for, and only after <see cref="PrevSeq"/>, whose entry must be of
/// <see cref="PrevEpoch"/> (0/0: from the start): its log then extends the primary's without a gap or a fork.
/// With <see cref="Release"/> the primary gives the read lease back instead (its last appends before it hands the
/// shard to another silo).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.AppendRequest")]
public sealed record AppendRequest(
    [property: Id(0)] long Epoch,
    [property: Id(1)] string Primary,
    [property: Id(2)] long PrevSeq,
    [property: Id(3)] long PrevEpoch,
    [property: Id(4)] IReadOnlyList<LogEntry> Entries,
    [property: Id(5)] bool Release = false);

[GenerateSerializer, Alias("kbl.AppendStatus")]
public enum AppendStatus
{
    /// <summary>Applied (durably); the replica is at <see cref="AppendReply.AppliedSeq"/>.</summary>
    Ok = 0,

    /// <summary>The replica is sealed for a newer epoch: the sender is no longer the primary.</summary>
    Fenced = 1,

    /// <summary>The replica has not been sealed for this epoch yet (it restarted, or the seal was lost): seal it again.</summary>
    Unsealed = 2,

    /// <summary>The replica is behind <see cref="AppendRequest.PrevSeq"/>: send from its <see cref="AppendReply.AppliedSeq"/>.</summary>
    Gap = 3,

    /// <summary>The replica's log forked from the primary's (an old epoch's unacknowledged writes): it needs a rebuild.</summary>
    Diverged = 4,
}

[GenerateSerializer, Immutable, Alias("kbl.AppendReply")]
public sealed record AppendReply(
    [property: Id(0)] AppendStatus Status,
    [property: Id(1)] long Epoch,
    [property: Id(2)] long AppliedSeq);

/// <summary>A new primary's claim on a replica: refuse every older epoch from now on, and say how far you are.</summary>
[GenerateSerializer, Immutable, Alias("kbl.SealRequest")]
public sealed record SealRequest([property: Id(0)] long Epoch, [property: Id(1)] string Primary);

[GenerateSerializer, Alias("kbl.SealStatus")]
public enum SealStatus
{
    Sealed = 0,

    /// <summary>The replica's read lease to the previous primary has not run out: ask again after <see cref="SealReply.Wait"/>.</summary>
    Wait = 1,

    /// <summary>A newer epoch sealed it already.</summary>
    Fenced = 2,
}

/// <summary>A copy's answer to a seal: whether it is sealed, how far its log goes, and the identity of the disk it is on (a copy sealed on another disk than the configuration names is not the one it counts in sync).</summary>
[GenerateSerializer, Immutable, Alias("kbl.SealReply")]
public sealed record SealReply(
    [property: Id(0)] SealStatus Status,
    [property: Id(1)] long Epoch,
    [property: Id(2)] long AppliedSeq,
    [property: Id(3)] long LastEpoch,
    [property: Id(4)] TimeSpan Wait,
    [property: Id(5)] string Disk = "");

/// <summary>A member of a shard's replica set: the silo holding a copy, the identity of the disk that holds it, and whether it is in sync.</summary>
[GenerateSerializer, Immutable, Alias("kbl.ReplicaMember")]
public sealed record ReplicaMember(
    [property: Id(0)] string Silo,
    [property: Id(1)] string Disk,
    [property: Id(2)] bool InSync);

/// <summary>
/// A shard's replica configuration, changed only by conditional write (the consensus register): the epoch of its
/// primary, the primary's silo and disk, the other members, and how many copies a write must reach to be
/// acknowledged.
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.ShardConfig")]
public sealed record ShardConfig(
    [property: Id(0)] long Epoch,
    [property: Id(1)] string Primary,
    [property: Id(2)] string PrimaryDisk,
    [property: Id(3)] IReadOnlyList<ReplicaMember> Members,
    [property: Id(4)] int MinCopies)
{
    public IEnumerable<ReplicaMember> InSync => Members.Where(m => m.InSync);

    /// <summary>
    /// Whether it names copies that may hold every acknowledged write: a primary, or a member in sync (a hand-over
    /// clears the primary and keeps those). False once a KBL switched to one copy has forgotten its mirror.
    /// </summary>
    public bool NamesCopies => Primary.Length > 0 || Members.Any(m => m.InSync);

    /// <summary>Whether <paramref name="silo"/> with <paramref name="disk"/> holds every acknowledged write: the primary's, or an in-sync member's.</summary>
    public bool IsComplete(string silo, string disk) =>
        (Primary == silo && PrimaryDisk == disk) || Members.Any(m => m.Silo == silo && m.Disk == disk && m.InSync);
}

/// <summary>
/// One child of a merge as a silo's replica copy of it must be for the merged KBL to take it over: the child's id,
/// range, and final position (the seq its copy applied last, and that entry's epoch).
/// </summary>
[GenerateSerializer, Immutable, Alias("kbl.FusedChild")]
public sealed record FusedChild(
    [property: Id(0)] string KblId,
    [property: Id(1)] Keys.KeyRange Range,
    [property: Id(2)] long Applied,
    [property: Id(3)] long LastEpoch);
