using Kbl.Keys;

namespace Kbl.Records;

// Arrivals: a KBL that comes to own a range on this silo from elsewhere (a move's import, a birth's or a merge's
// records from another silo, a replica promoted, a shard restored from the cold tier or installed) first clears the
// range here, and that is noted, numbered, before anything of it is written. A KBL that divided drops its copy of the
// ranges its new KBLs on other silos took over only after they serve; by then one of them may have been moved here,
// onto this same key layout (records or none yet: it writes here from then on). DeleteRangeUnlessArrived drops a
// range only when nothing arrived in it since a mark taken before the division's new KBLs could serve: the check and
// the delete under one lock with the noting, so an arrival is either seen or cleared and written after the delete.
public sealed partial class RecordStore
{
    private const int ArrivalsKept = 1024;
    private readonly Lock _arrivalsLock = new();
    private readonly Queue<(long Seq, string Colony, KeyRange Range)> _arrivals = new();
    private long _arrivalSeq;
    private long _forgottenThrough; // the last arrival no longer kept

    /// <summary>The number of the last arrival so far: <see cref="DeleteRangeUnlessArrived"/> looks at those after it.</summary>
    public long ArrivalMark()
    {
        lock (_arrivalsLock)
        {
            return _arrivalSeq;
        }
    }

    /// <summary>
    /// Drops every record of <paramref name="range"/> unless records of the colony arrived in it since
    /// <paramref name="mark"/> (or arrivals that old are no longer kept): then they are another KBL's, and what this
    /// disk held there before they came was cleared by their arrival. True when dropped.
    /// </summary>
    public bool DeleteRangeUnlessArrived(string colony, KeyRange range, long mark)
    {
        lock (_arrivalsLock)
        {
            if (mark < _forgottenThrough || _arrivals.Any(a => a.Seq > mark && a.Colony == colony && range.Overlaps(a.Range.Lo, a.Range.Hi)))
            {
                return false;
            }

            DeleteRange(colony, range);
            return true;
        }
    }

    /// <summary>
    /// Clears <paramref name="range"/> of the colony's records here for a KBL that takes it over from elsewhere (its
    /// records follow, or it starts writing), noting the arrival first.
    /// </summary>
    public void ClearForArrival(string colony, KeyRange range)
    {
        Arriving(colony, range);
        DeleteRange(colony, range);
    }

    /// <summary>Notes that <paramref name="range"/> is taken over here: called before anything of it is written.</summary>
    private void Arriving(string colony, KeyRange range)
    {
        lock (_arrivalsLock)
        {
            _arrivals.Enqueue((++_arrivalSeq, colony, range));
            if (_arrivals.Count > ArrivalsKept)
            {
                _forgottenThrough = _arrivals.Dequeue().Seq;
            }
        }
    }
}
