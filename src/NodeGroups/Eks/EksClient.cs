using System.Net;
using System.Text.Json;
using Amazon.Runtime;
using Microsoft.Extensions.Logging;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// A typed client for the EKS node group API over <see cref="HttpClient"/> (AWSSDK.EKS is not served here). Every call is
/// signed with SigV4 (<see cref="EksSigner"/>) and retried with exponential backoff and jitter on throttling (429),
/// <c>ResourceInUseException</c> (409, except on create, where it means "exists already"), server errors (5xx) and
/// transport failures, up to <see cref="EksOptions.MaxAttempts"/>; other errors surface at once as <see cref="EksApiException"/>.
/// </summary>
public sealed class EksClient
{
    private const int MaxErrorMessageChars = 500;
    private readonly AwsSender _sender;

    /// <param name="http">Sends the requests (e.g. a typed client from <c>IHttpClientFactory</c>).</param>
    /// <param name="options">Cluster, region, endpoint (<see cref="EksOptions.ServiceUrl"/>) and retry settings.</param>
    /// <param name="credentials">Null: the SDK's default chain (environment, profile, web identity/IRSA, container, instance profile), resolved at the first call.</param>
    /// <param name="timeProvider">The clock for signatures and backoff pauses.</param>
    /// <param name="logger">Retries are logged.</param>
    public EksClient(HttpClient http, EksOptions options, AWSCredentials? credentials = null, TimeProvider? timeProvider = null, ILogger<EksClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _sender = new AwsSender(http, options, EksSigner.ServiceName, "application/json", credentials, timeProvider, logger);
        Requests = new EksRequests(options);
    }

    /// <summary>Builds the calls this client sends.</summary>
    public EksRequests Requests { get; }

    /// <summary>The cluster (DescribeCluster): its status and network, including the subnets it was created with.</summary>
    public async Task<EksCluster> DescribeCluster(CancellationToken cancellationToken)
    {
        var json = await Send(Requests.DescribeCluster(), retryResourceInUse: true, cancellationToken).ConfigureAwait(false);
        return EksJson.Deserialize<EksClusterResponse>(json, "DescribeCluster").Cluster
            ?? throw new JsonException($"EKS DescribeCluster answered without a cluster: '{json}'");
    }

    /// <summary>
    /// Creates a node group. A <c>ResourceInUseException</c> (409: a group of that name exists) is not retried but
    /// thrown, so the caller can describe the existing group; everything else retryable is retried with the same
    /// body, whose <c>clientRequestToken</c> makes a repeated create after a lost answer harmless.
    /// </summary>
    public async Task<EksNodegroup> CreateNodegroup(EksCreateNodegroupRequest request, CancellationToken cancellationToken)
    {
        var json = await Send(Requests.CreateNodegroup(request), retryResourceInUse: false, cancellationToken).ConfigureAwait(false);
        return Nodegroup(json, "CreateNodegroup");
    }

    /// <summary>The node group, or null when it does not exist (ResourceNotFoundException).</summary>
    public async Task<EksNodegroup?> DescribeNodegroup(string nodegroupName, CancellationToken cancellationToken)
    {
        try
        {
            var json = await Send(Requests.DescribeNodegroup(nodegroupName), retryResourceInUse: true, cancellationToken).ConfigureAwait(false);
            return Nodegroup(json, "DescribeNodegroup");
        }
        catch (EksApiException e) when (e.IsNotFound)
        {
            return null;
        }
    }

    /// <summary>One page of node group names.</summary>
    public async Task<EksNodegroupPage> ListNodegroupsPage(string? nextToken, int? maxResults, CancellationToken cancellationToken)
    {
        var json = await Send(Requests.ListNodegroups(nextToken, maxResults), retryResourceInUse: true, cancellationToken).ConfigureAwait(false);
        return EksJson.Deserialize<EksNodegroupPage>(json, "ListNodegroups");
    }

    /// <summary>The names of all node groups of the cluster, following <c>nextToken</c> through every page.</summary>
    public Task<IReadOnlyList<string>> ListNodegroups(CancellationToken cancellationToken) => ListNodegroups(null, cancellationToken);

    /// <summary>The names of all node groups of the cluster, asking for <paramref name="pageSize"/> per page (null: EKS's default).</summary>
    public async Task<IReadOnlyList<string>> ListNodegroups(int? pageSize, CancellationToken cancellationToken)
    {
        var names = new List<string>();
        string? next = null;
        do
        {
            var page = await ListNodegroupsPage(next, pageSize, cancellationToken).ConfigureAwait(false);
            names.AddRange(page.Nodegroups ?? []);
            next = string.IsNullOrEmpty(page.NextToken) || page.NextToken == next ? null : page.NextToken;
        }
        while (next is not null);

        return names;
    }

    /// <summary>Starts an update of a node group's scaling, labels or taints; a busy group (409) is retried.</summary>
    public async Task<EksUpdate> UpdateNodegroupConfig(string nodegroupName, EksNodegroupConfigUpdate update, CancellationToken cancellationToken)
    {
        var json = await Send(Requests.UpdateNodegroupConfig(nodegroupName, update), retryResourceInUse: true, cancellationToken).ConfigureAwait(false);
        return Update(json, "UpdateNodegroupConfig");
    }

    /// <summary>Starts deleting a node group; null when it was gone already.</summary>
    public async Task<EksNodegroup?> DeleteNodegroup(string nodegroupName, CancellationToken cancellationToken)
    {
        try
        {
            var json = await Send(Requests.DeleteNodegroup(nodegroupName), retryResourceInUse: true, cancellationToken).ConfigureAwait(false);
            return Nodegroup(json, "DeleteNodegroup");
        }
        catch (EksApiException e) when (e.IsNotFound)
        {
            return null;
        }
    }

    /// <summary>An update of a node group, as UpdateNodegroupConfig started it.</summary>
    public async Task<EksUpdate> DescribeUpdate(string nodegroupName, string updateId, CancellationToken cancellationToken)
    {
        var json = await Send(Requests.DescribeUpdate(nodegroupName, updateId), retryResourceInUse: true, cancellationToken).ConfigureAwait(false);
        return Update(json, "DescribeUpdate");
    }

    /// <summary>Signs and sends <paramref name="call"/>, retrying as the class says; returns the response body of a success.</summary>
    public Task<string> Send(EksCall call, CancellationToken cancellationToken) => Send(call, retryResourceInUse: true, cancellationToken);

    private Task<string> Send(EksCall call, bool retryResourceInUse, CancellationToken cancellationToken) =>
        _sender.Send(call, (response, body) =>
        {
            var error = Error(call.Operation, response, body);
            return (error, error.IsRetryable && (retryResourceInUse || !error.IsResourceInUse));
        }, cancellationToken);

    /// <summary>An error response as rest-json says: the type in <c>x-amzn-ErrorType</c> (or the body's <c>__type</c>/<c>code</c>), the message in the body.</summary>
    internal static EksApiException Error(string operation, HttpResponseMessage response, string body)
    {
        string? type = null;
        if (response.Headers.TryGetValues("x-amzn-ErrorType", out var values))
        {
            type = values.FirstOrDefault();
        }

        string? message = null;
        try
        {
            using var document = JsonDocument.Parse(body);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in document.RootElement.EnumerateObject())
                {
                    if (property.Value.ValueKind != JsonValueKind.String)
                    {
                        continue;
                    }

                    if (property.NameEquals("message") || property.NameEquals("Message"))
                    {
                        message = property.Value.GetString();
                    }
                    else if (type is null && (property.NameEquals("__type") || property.NameEquals("code") || property.NameEquals("Code")))
                    {
                        type = property.Value.GetString();
                    }
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON (a proxy's or load balancer's page): the body is the message.
        }

        type = string.IsNullOrEmpty(type) ? response.StatusCode.ToString() : type.Split(':')[0];
        type = type[(type.LastIndexOf('#') + 1)..];
        if (string.IsNullOrEmpty(message))
        {
            message = string.IsNullOrWhiteSpace(body) ? response.ReasonPhrase ?? "no message" : body.Trim();
        }

        if (message.Length > MaxErrorMessageChars)
        {
            message = message[..MaxErrorMessageChars] + "…";
        }

        return new EksApiException(operation, response.StatusCode, type, message);
    }

    private static EksNodegroup Nodegroup(string json, string operation) =>
        EksJson.Deserialize<EksNodegroupResponse>(json, operation).Nodegroup
            ?? throw new JsonException($"EKS {operation} answered without a nodegroup: '{json}'");

    private static EksUpdate Update(string json, string operation) =>
        EksJson.Deserialize<EksUpdateResponse>(json, operation).Update
            ?? throw new JsonException($"EKS {operation} answered without an update: '{json}'");
}
