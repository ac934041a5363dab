using System.Text;
using Kbl.Replication;

namespace Kbl.Tests.Replication;

/// <summary>
/// A rebuild's pages reach a replica as messages of their own: only the stream under way, page after page, whole,
/// takes effect — a late or repeated message of an earlier stream cannot slip a page into a later one.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class ReplicaInstallTests
{
    private readonly InMemoryShardLog _log = new("disk-1");
    private readonly ReplicaCore _replica;

    public ReplicaInstallTests()
    {
        _log.Seal(3);
        _replica = new ReplicaCore(_log, TimeSpan.FromSeconds(2), DateTimeOffset.UnixEpoch);
    }

    [Fact]
    public void Only_the_stream_under_way_page_after_page_and_whole_takes_effect()
    {
        Assert.True(_replica.BeginInstall(3, stream: 1));
        Assert.True(_replica.InstallPage(3, 1, 0, [Record("a")]));
        Assert.True(_replica.BeginInstall(3, stream: 2)); // a newer stream: the first one's pages go
        Assert.False(_replica.InstallPage(3, 1, 1, [Record("late")]), "a page of the earlier stream");
        Assert.False(_replica.InstallPage(3, 2, 1, [Record("b")]), "a page out of order");
        Assert.True(_replica.InstallPage(3, 2, 0, [Record("b")]));
        Assert.False(_replica.InstallPage(3, 2, 0, [Record("b")]), "a page repeated");
        Assert.False(_replica.EndInstall(3, 1, 1, appliedSeq: 9, lastEpoch: 3), "the end of the earlier stream");
        Assert.False(_replica.EndInstall(3, 2, 2, appliedSeq: 9, lastEpoch: 3), "an end counting a page that never came");
        Assert.Equal(0, _log.AppliedSeq);

        Assert.True(_replica.InstallPage(3, 2, 1, [Record("c")]));
        Assert.True(_replica.EndInstall(3, 2, 2, appliedSeq: 9, lastEpoch: 3));
        Assert.Equal(["b", "c"], _log.Records.Keys);
        Assert.Equal(9, _log.AppliedSeq);
        Assert.False(_replica.EndInstall(3, 2, 2, appliedSeq: 9, lastEpoch: 3), "a repeated end");
    }

    [Fact]
    public void A_stream_from_an_older_epoch_is_refused_and_one_cut_by_a_newer_seal_changes_nothing()
    {
        Assert.False(_replica.BeginInstall(2, stream: 1));
        Assert.True(_replica.BeginInstall(3, stream: 2));
        Assert.True(_replica.InstallPage(3, 2, 0, [Record("a")]));
        _log.Seal(4);
        Assert.False(_replica.EndInstall(3, 2, 1, appliedSeq: 5, lastEpoch: 3));
        Assert.Empty(_log.Records);
    }

    [Fact]
    public void A_drop_of_its_epoch_stops_a_stream_so_its_late_end_brings_no_copy_back_but_a_later_epochs_stream_goes_on()
    {
        Assert.True(_replica.BeginInstall(3, stream: 1));
        Assert.True(_replica.InstallPage(3, 1, 0, [Record("a")]));
        _replica.DropInstall(2); // an older epoch's drop: not this stream's
        Assert.True(_replica.InstallPage(3, 1, 1, [Record("b")]));

        _replica.DropInstall(3); // the member was removed and its copy dropped while the stream was on its way
        Assert.False(_replica.EndInstall(3, 1, 2, appliedSeq: 9, lastEpoch: 3), "the end of a dropped stream");
        Assert.Empty(_log.Records);
    }

    private static (byte[] Key, byte[] Value, long Version) Record(string key) => (Encoding.UTF8.GetBytes(key), Encoding.UTF8.GetBytes("v"), 1);
}
