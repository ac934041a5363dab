using Kbl.Records;

namespace Kbl.Replication;

/// <summary>
/// A replica of one leaf's shard, pinned to one silo (key <c>{silo}|{kblId}</c>): it applies the primary's log to
/// that silo's copy, only from the epoch it was sealed for, and grants the primary read leases.
/// </summary>
public interface IReplicaGrain : IGrainWithStringKey
{
    Task<AppendReply> Append(AppendRequest request);

    Task<SealReply> Seal(SealRequest request);

    /// <summary>Entries of this copy's log after <paramref name="afterSeq"/>, at most <paramref name="max"/>.</summary>
    Task<IReadOnlyList<LogEntry>> Fetch(long afterSeq, int max);

    /// <summary>
    /// Starts taking a snapshot of the primary's in pages (a rebuild), as <paramref name="stream"/> (a number the
    /// primary draws for it): <see cref="InstallPage"/> stages each page in order (bounded like every transfer
    /// between silos), <see cref="EndInstall"/> replaces this copy with all of them at once. A newer stream drops what
    /// an unfinished one staged; a message of another stream is refused. False when sealed for a newer epoch.
    /// </summary>
    Task<bool> BeginInstall(long epoch, long stream);

    /// <summary>Stages page <paramref name="index"/> (from 0) of the stream; false unless that stream is under way and the page is the next.</summary>
    Task<bool> InstallPage(long epoch, long stream, int index, IReadOnlyList<StoredRecord> records);

    /// <summary>Replaces this copy with the stream's <paramref name="pages"/> staged pages; false when sealed for another epoch, or the stream is not that one, whole.</summary>
    Task<bool> EndInstall(long epoch, long stream, int pages, long appliedSeq, long lastEpoch);

    /// <summary>
    /// A division's new leaf inherits this silo's copy of the leaf it came from (<paramref name="parentId"/>): this
    /// copy becomes that copy's records within <paramref name="range"/>, at the parent's position
    /// <paramref name="appliedSeq"/> (of <paramref name="lastEpoch"/>), with no local copy between (no network).
    /// False, nothing changed, when the parent's copy here is not at that position, or this copy already started a
    /// life of its own (it was sealed or written since an earlier fork).
    /// </summary>
    Task<bool> Fork(string parentId, Keys.KeyRange range, long appliedSeq, long lastEpoch);

    /// <summary>
    /// A merged KBL takes over this silo's copies of its children (<paramref name="children"/>, each at exactly its
    /// final position): together they become this copy, at <paramref name="appliedSeq"/> of <paramref name="epoch"/>,
    /// with no copy over the network. The disk holding the copy; null, nothing changed, when a child's copy here is not
    /// at its position, or this copy is sealed for <paramref name="epoch"/> or a newer one.
    /// </summary>
    Task<string?> Fuse(IReadOnlyList<FusedChild> children, long appliedSeq, long epoch);

    /// <summary>
    /// Drops this copy: its KBL holds no shard any more (it became interior, or merged away), or its primary removed
    /// it from the replica set. Only while the copy is sealed for <paramref name="epoch"/> or an older one (a rebuild
    /// of such an epoch under way stops too); false when no copy was dropped.
    /// </summary>
    Task<bool> Drop(long epoch);

    /// <summary>The identity of the disk this copy is on.</summary>
    Task<string> Disk();

    /// <summary>What this copy holds within <paramref name="range"/> (the shard's range now).</summary>
    Task<CopyDigest> Digest(Keys.KeyRange range);

    public static string Key(string silo, string kblId) => $"{silo}|{kblId}";
}
