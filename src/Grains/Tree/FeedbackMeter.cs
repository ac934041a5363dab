namespace Kbl.Tree;

/// <summary>
/// A leaf's own measurements: read and write counts turned into per-second EWMAs each feedback period, plus a
/// small ring of sampled keys for choosing split keys by load.
/// </summary>
public sealed class FeedbackMeter
{
    private const int SampleEvery = 4;
    private const int SampleSize = 4096;
    private readonly byte[]?[] _samples = new byte[SampleSize][];
    private long _reads;
    private long _writes;
    private long _accesses;

    public double ReadsPerSecond { get; private set; }

    public double WritesPerSecond { get; private set; }

    public DateTimeOffset? LastAccess { get; private set; }

    public double OpsPerSecond => ReadsPerSecond + WritesPerSecond;

    public void Read(byte[] key, DateTimeOffset now)
    {
        _reads++;
        Touch(key, now);
    }

    public void Write(byte[] key, DateTimeOffset now)
    {
        _writes++;
        Touch(key, now);
    }

    public void Touch(DateTimeOffset now) => LastAccess = now;

    /// <summary>Folds the counts of the period just ended into the moving averages (time constant: five periods).</summary>
    public void Tick(TimeSpan period)
    {
        var seconds = Math.Max(period.TotalSeconds, 1e-3);
        const double alpha = 0.2;
        ReadsPerSecond += alpha * ((_reads / seconds) - ReadsPerSecond);
        WritesPerSecond += alpha * ((_writes / seconds) - WritesPerSecond);
        _reads = 0;
        _writes = 0;
    }

    public IEnumerable<byte[]> SampledKeys() => _samples.Where(k => k is not null)!;

    /// <summary>Forgets rates and samples (a new shape starts measuring afresh).</summary>
    public void Reset()
    {
        ReadsPerSecond = WritesPerSecond = 0;
        _reads = _writes = _accesses = 0;
        Array.Clear(_samples);
    }

    private void Touch(byte[] key, DateTimeOffset now)
    {
        LastAccess = now;
        if (_accesses++ % SampleEvery == 0)
        {
            _samples[(_accesses / SampleEvery) % SampleSize] = key;
        }
    }
}
