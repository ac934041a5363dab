using System.Collections.Concurrent;
using System.Net.Http.Headers;
using Amazon.Runtime;
using Amazon.Runtime.Internal;
using Amazon.Runtime.Internal.Auth;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// Signs an <see cref="EksCall"/> with AWS Signature Version 4 (AWSSDK.Core's <see cref="AWS4Signer"/>, signing name
/// <c>eks</c>) and turns it into the <see cref="HttpRequestMessage"/> that is sent.
/// </summary>
public static class EksSigner
{
    /// <summary>The SigV4 signing name of EKS.</summary>
    public const string ServiceName = "eks";

    private static readonly ConcurrentDictionary<(string Service, string Region), EksSigningConfig> Configs = new();

    /// <summary>
    /// The signed request for <paramref name="call"/> at time <paramref name="at"/>: <c>Authorization</c>,
    /// <c>X-Amz-Date</c>, <c>X-Amz-Content-SHA256</c>, and <c>X-Amz-Security-Token</c> for session credentials (signed
    /// too); the body as bytes with <c>Content-Type: application/json</c> exactly (a charset would break the signature).
    /// </summary>
    public static HttpRequestMessage Sign(EksCall call, ImmutableCredentials credentials, string region, DateTimeOffset at) =>
        Sign(call, credentials, region, at, ServiceName, "application/json");

    /// <summary>
    /// The same for another AWS service without an SDK here (<see cref="AutoScalingClient"/>: signing name
    /// <c>autoscaling</c>, a form body): <paramref name="contentType"/> is sent and signed exactly as given.
    /// </summary>
    public static HttpRequestMessage Sign(EksCall call, ImmutableCredentials credentials, string region, DateTimeOffset at, string service, string contentType)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentException.ThrowIfNullOrWhiteSpace(region);
        ArgumentException.ThrowIfNullOrWhiteSpace(service);
        ArgumentException.ThrowIfNullOrWhiteSpace(contentType);

        var config = Configs.GetOrAdd((service, region), key => new EksSigningConfig { AuthenticationServiceName = key.Service, AuthenticationRegion = key.Region });
        using var request = new DefaultRequest(new EksWebServiceRequest(), service)
        {
            HttpMethod = call.Method.Method,
            Endpoint = call.Endpoint,
            ResourcePath = call.Path,
            Content = call.BodyBytes,
        };
        foreach (var (key, value) in call.Query)
        {
            request.Parameters[key] = value;
        }

        if (call.BodyBytes is not null)
        {
            request.Headers["Content-Type"] = contentType;
        }

        if (credentials.UseToken)
        {
            request.Headers["X-Amz-Security-Token"] = credentials.Token;
        }

        var signature = new AWS4Signer().SignRequest(request, config, null, credentials.AccessKey, credentials.SecretKey, at.UtcDateTime);

        var message = new HttpRequestMessage(call.Method, call.Uri);
        if (call.BodyBytes is { } body)
        {
            message.Content = new ByteArrayContent(body);
            message.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        foreach (var (name, value) in request.Headers)
        {
            if (string.Equals(name, "host", StringComparison.OrdinalIgnoreCase))
            {
                message.Headers.Host = value;
            }
            else if (!string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }

        message.Headers.TryAddWithoutValidation("Authorization", signature.ForAuthorizationHeader);
        return message;
    }

    /// <summary>The original request a <see cref="DefaultRequest"/> insists on; nothing reads it.</summary>
    private sealed class EksWebServiceRequest : AmazonWebServiceRequest;
}
