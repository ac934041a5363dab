using System.Net;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// An EKS API call answered with an error: the HTTP status, AWS's error type (<c>ResourceInUseException</c>,
/// <c>ThrottlingException</c>, <c>InvalidParameterException</c>…) and AWS's message.
/// </summary>
public sealed class EksApiException : Exception
{
    public EksApiException(string operation, HttpStatusCode statusCode, string errorType, string awsMessage)
        : base($"EKS {operation} failed with {errorType} ({(int)statusCode}): {awsMessage}")
    {
        Operation = operation;
        StatusCode = statusCode;
        ErrorType = errorType;
        AwsMessage = awsMessage;
    }

    /// <summary>The API operation, e.g. <c>CreateNodegroup</c>.</summary>
    public string Operation { get; }

    public HttpStatusCode StatusCode { get; }

    /// <summary>AWS's error type without its namespace, e.g. <c>ResourceInUseException</c>.</summary>
    public string ErrorType { get; }

    /// <summary>The message AWS sent.</summary>
    public string AwsMessage { get; }

    /// <summary>The resource is busy or exists already (409).</summary>
    public bool IsResourceInUse => StatusCode == HttpStatusCode.Conflict || ErrorType == "ResourceInUseException";

    /// <summary>The resource does not exist (404).</summary>
    public bool IsNotFound => StatusCode == HttpStatusCode.NotFound || ErrorType == "ResourceNotFoundException";

    /// <summary>Worth another attempt after a pause: throttling (429), a busy resource (409) or a server error (5xx).</summary>
    public bool IsRetryable =>
        StatusCode == HttpStatusCode.TooManyRequests || ErrorType is "ThrottlingException" or "TooManyRequestsException"
        || IsResourceInUse || (int)StatusCode >= 500;
}
