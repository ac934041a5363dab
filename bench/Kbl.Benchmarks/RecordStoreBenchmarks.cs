using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Kbl.Records;

namespace Kbl.Benchmarks;

/// <summary>
/// The silo's record store, the last step of every put and get: RocksDB without fsync, as a silo runs by default.
/// <see cref="WriteFromFourThreads"/> is the shape a silo's grains give it (several leaves writing at once).
/// </summary>
[MemoryDiagnoser]
public class RecordStoreBenchmarks : IDisposable
{
    private const string Colony = "bench";
    private const int ParallelWrites = 4_000;
    private const int BatchSize = 16;
    private string _path = "";
    private RecordStore? _store;
    private byte[][] _keys = [];
    private byte[] _value = [];
    private long _version;
    private int _next;

    [Params(100, 1024)]
    public int ValueSize { get; set; }

    public int KeyCount { get; set; } = 10_000;

    private RecordStore Store => _store ?? throw new InvalidOperationException("GlobalSetup has not run");

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), "kbl-bench-" + Guid.NewGuid().ToString("N"));
        _store = new RecordStore(_path, syncWrites: false);
        _keys = Enumerable.Range(0, KeyCount)
            .Select(i => Encoding.UTF8.GetBytes("key-" + i.ToString("D12", CultureInfo.InvariantCulture)))
            .ToArray();
        _value = new byte[ValueSize];
        Random.Shared.NextBytes(_value);
        foreach (var key in _keys)
        {
            Store.Write(Colony, key, _value, ++_version, "bench/r", _version);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => Dispose();

    [Benchmark]
    public StoredRecord? Get() => Store.Get(Colony, NextKey());

    [Benchmark]
    public void Write()
    {
        var version = ++_version;
        Store.Write(Colony, NextKey(), _value, version, "bench/r", version);
    }

    /// <summary>A leaf's share of a batch: <see cref="BatchSize"/> records in one write batch; per record.</summary>
    [Benchmark(OperationsPerInvoke = BatchSize)]
    public void WriteBatch()
    {
        var records = new (byte[] Key, byte[]? Value, long Version)[BatchSize];
        for (var i = 0; i < BatchSize; i++)
        {
            records[i] = (NextKey(), _value, ++_version);
        }

        Store.Write(Colony, records, "bench/r", _version);
    }

    /// <summary>Four leaves writing at once, each its own KBL clock; per operation.</summary>
    [Benchmark(OperationsPerInvoke = ParallelWrites)]
    public void WriteFromFourThreads() => Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, leaf =>
    {
        var kbl = "bench/r." + leaf.ToString(CultureInfo.InvariantCulture);
        for (var i = 0; i < ParallelWrites / 4; i++)
        {
            var version = Interlocked.Increment(ref _version);
            Store.Write(Colony, _keys[((i * 4) + leaf) % _keys.Length], _value, version, kbl, version);
        }
    });

    public void Dispose()
    {
        _store?.Dispose();
        _store = null;
        if (_path.Length > 0 && Directory.Exists(_path))
        {
            Directory.Delete(_path, recursive: true);
        }

        GC.SuppressFinalize(this);
    }

    private byte[] NextKey()
    {
        _next = (_next + 7919) % _keys.Length;
        return _keys[_next];
    }
}
