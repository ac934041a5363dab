namespace Kbl.LoadGen;

/// <summary>One protocol's way of talking to the silo. Every call returns null on success, else what went wrong.</summary>
internal interface IRecordClient : IDisposable
{
    /// <summary>Where the load goes, for messages.</summary>
    string Address { get; }

    /// <summary>Creates the colony when it does not exist (or sets <paramref name="genomeJson"/> on it when given).</summary>
    Task EnsureColony(string colony, string? genomeJson, CancellationToken cancellationToken);

    /// <summary>Writes <paramref name="keys"/>: one key as a single put, more as one batch (the batch API); an error when any failed.</summary>
    Task<OpError?> Put(int[] keys, CancellationToken cancellationToken);

    /// <summary>Reads <paramref name="keys"/>: one key as a single get, more as one batch; an error when any failed (a key not found too).</summary>
    Task<OpError?> Get(int[] keys, CancellationToken cancellationToken);

    /// <summary>The gateway's no-op endpoint, the peer that shows what serving a request costs without Kbl (HTTP only).</summary>
    Task<OpError?> Noop(CancellationToken cancellationToken) => throw new NotSupportedException("only the HTTP client has a no-op endpoint");
}
