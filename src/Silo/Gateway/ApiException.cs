namespace Kbl.Silo.Gateway;

/// <summary>A request the gateway refuses or cannot serve; HTTP and gRPC each map <see cref="Kind"/> to their status.</summary>
public sealed class ApiException(ApiError kind, string message) : Exception(message)
{
    public ApiError Kind { get; } = kind;

    /// <summary>For <see cref="ApiError.TooManyRequests"/>: when the client may try again (HTTP <c>Retry-After</c>).</summary>
    public TimeSpan? RetryAfter { get; init; }
}
