namespace Kbl.LoadGen;

/// <summary>A failed request: <see cref="Kind"/> groups failures in the report (e.g. <c>HTTP 503</c>), <see cref="Detail"/> is a sample message.</summary>
internal sealed record OpError(string Kind, string Detail)
{
    public static OpError From(Exception e) => e switch
    {
        HttpRequestException { HttpRequestError: var error } => new OpError($"connection ({error})", e.Message),
        TimeoutException => new OpError("timeout", e.Message),
        TaskCanceledException { InnerException: TimeoutException } => new OpError("timeout", e.Message),
        _ => new OpError(e.GetType().Name, e.Message),
    };
}
