namespace Kbl.Silo.Gateway;

/// <summary>Section <c>Kbl:Gateway</c>. The HTTP address is set the ASP.NET Core way (<c>--urls</c>).</summary>
public sealed class KblGatewayOptions
{
    public const string Section = "Kbl:Gateway";

    /// <summary>The gRPC (HTTP/2, plaintext) port, on the host of the first HTTP URL.</summary>
    public int GrpcPort { get; set; } = 5001;

    /// <summary>The largest value a PUT may carry (413 beyond).</summary>
    public int MaxValueBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// Group commit: puts and deletes that queue for one leaf while a call to it is under way travel in one call (one
    /// store write, one replication round). Off, each write is a call of its own (a benchmark's peer run).
    /// </summary>
    public bool GroupCommit { get; set; } = true;

    /// <summary>The largest page a scan returns over HTTP, in records.</summary>
    public int MaxScanPage { get; set; } = 1000;

    /// <summary>
    /// The most bytes (keys plus values) a scan page carries over HTTP, and each leaf page a gRPC scan reads; a page
    /// always carries at least one record, however large.
    /// </summary>
    public int MaxScanPageBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most records one batch (HTTP <c>/batch/…</c>, one message of gRPC <c>PutMany</c>/<c>GetMany</c>) carries.</summary>
    public int MaxBatchRecords { get; set; } = 1000;

    /// <summary>The most bytes of keys and values one batch carries (an HTTP batch's body may be twice this, for JSON and base64).</summary>
    public int MaxBatchBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>The most records one gRPC <c>Scan</c> streams (and what <c>limit = 0</c> asks for).</summary>
    public int MaxScanStream { get; set; } = 100_000;

    /// <summary>
    /// Requests (HTTP <c>/v1</c> and gRPC) this gateway serves at once; beyond them and <see cref="MaxQueuedRequests"/>
    /// a request is refused at once with 429 / <c>RESOURCE_EXHAUSTED</c>. 0: no limit.
    /// </summary>
    public int MaxConcurrentRequests { get; set; } = 1000;

    /// <summary>Requests that wait (first in, first out) for one of <see cref="MaxConcurrentRequests"/> before refusals start.</summary>
    public int MaxQueuedRequests { get; set; }

    /// <summary>Every colony's quota on this gateway, in requests per second (bursts up to a second's worth). 0: none.</summary>
    public int ColonyRequestsPerSecond { get; set; }

    /// <summary>Quotas of particular colonies (colony name → requests per second, 0: none), in place of <see cref="ColonyRequestsPerSecond"/>.</summary>
    public Dictionary<string, int> ColonyQuotas { get; set; } = [];
}
