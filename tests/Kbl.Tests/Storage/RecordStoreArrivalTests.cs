using System.Text;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Tests.Storage;

/// <summary>
/// A divided KBL's drop of a range its new KBL on another silo took over (<see cref="RecordStore.DeleteRangeUnlessArrived"/>):
/// a range taken over here since its mark (the new KBL moved here, with records or none) is kept; the drop goes ahead
/// when what was taken over was elsewhere, in another colony, or before the mark.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class RecordStoreArrivalTests : IDisposable
{
    private const string Colony = "arrivals";
    private readonly string _path = Path.Combine(Path.GetTempPath(), "kbl-arrivals-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly RecordStore _store;

    public RecordStoreArrivalTests() => _store = new RecordStore(_path, syncWrites: false);

    public void Dispose()
    {
        _store.Dispose();
        Directory.Delete(_path, recursive: true);
    }

    [Theory]
    [InlineData("m", Colony, true)] // the moved KBL's records, inside the range
    [InlineData("a", Colony, false)] // another range of the colony
    [InlineData("m", "other", false)] // the same keys of another colony
    public void A_range_is_dropped_unless_records_of_it_came_since_the_mark(string arrivedKey, string arrivedColony, bool kept)
    {
        var range = new KeyRange(Key("k"), Key("p"));
        _store.Import(Colony, [Record("l", "the divided KBL's copy")]);
        var mark = _store.ArrivalMark();
        _store.ClearForArrival(arrivedColony, new KeyRange(Key(arrivedKey), Key(arrivedKey + "z"))); // a move's BeginImport
        _store.Import(arrivedColony, [Record(arrivedKey, "moved here")]);

        var dropped = _store.DeleteRangeUnlessArrived(Colony, range, mark);

        Assert.Equal(!kept, dropped);
        Assert.Equal(kept, _store.Get(Colony, Key("l")) is not null);
    }

    [Fact]
    public void A_KBL_that_came_with_no_records_keeps_what_it_writes_after()
    {
        var range = new KeyRange(Key("k"), Key("p"));
        var mark = _store.ArrivalMark();
        _store.ClearForArrival(Colony, range); // an empty leaf moved here: no page imported
        _store.Write(Colony, Key("m"), Encoding.UTF8.GetBytes("written here"), 7, "arrivals/r.1", 7);

        Assert.False(_store.DeleteRangeUnlessArrived(Colony, range, mark));
        Assert.NotNull(_store.Get(Colony, Key("m")));
    }

    [Fact]
    public void Records_that_came_before_the_mark_do_not_hold_the_drop_back()
    {
        _store.ClearForArrival(Colony, new KeyRange(Key("m"), Key("n")));
        _store.Import(Colony, [Record("m", "came before")]);
        var mark = _store.ArrivalMark();

        Assert.True(_store.DeleteRangeUnlessArrived(Colony, new KeyRange(Key("k"), Key("p")), mark));
        Assert.Null(_store.Get(Colony, Key("m")));
    }

    [Fact]
    public void A_mark_older_than_the_arrivals_kept_holds_the_drop_back()
    {
        var mark = _store.ArrivalMark();
        for (var i = 0; i < 2000; i++)
        {
            _store.ClearForArrival(Colony, new KeyRange(Key($"a{i:d4}"), Key($"a{i:d4}z"))); // none in the range, but too many to keep
        }

        Assert.False(_store.DeleteRangeUnlessArrived(Colony, new KeyRange(Key("k"), Key("p")), mark));
    }

    private static byte[] Key(string key) => KeyOrder.Encode(key);

    private static StoredRecord Record(string key, string value) => new(Key(key), Encoding.UTF8.GetBytes(value), 1);
}
