namespace Kbl.Silo.Gateway;

/// <summary>Why a request failed; the values are the HTTP status codes.</summary>
public enum ApiError
{
    BadRequest = 400,
    NotFound = 404,
    Conflict = 409,
    PreconditionFailed = 412,
    TooLarge = 413,
    TooManyRequests = 429,
    Unavailable = 503,

    /// <summary>A write whose outcome is not known (it may or may not have happened).</summary>
    OutcomeUnknown = 504,
}
