namespace Kbl.LoadGen;

/// <summary>One protocol's way of talking to the silo. Every call returns null on success, else what went wrong.</summary>
internal interface IRecordClient : IDisposable
{
    /// <summary>Where the load goes, for messages.</summary>
    string Address { get; }

    /// <summary>Creates the colony when it does not exist (or sets <paramref name="genomeJson"/> on it when given).</summary>
    Task EnsureColony(string colony, string? genomeJson, CancellationToken cancellationToken);

    Task<OpError?> Put(int key, CancellationToken cancellationToken);

    Task<OpError?> Get(int key, CancellationToken cancellationToken);
}
