using System.Globalization;
using System.Net;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using Amazon.Runtime;
using Microsoft.Extensions.Logging;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// The two EC2 Auto Scaling calls the targeted scale-in makes, over <see cref="HttpClient"/> (AWSSDK.AutoScaling is not
/// served here): DescribeAutoScalingGroups (is this instance in the node group's group?) and
/// TerminateInstanceInAutoScalingGroup with <c>ShouldDecrementDesiredCapacity</c> (this instance goes, and the group
/// shrinks by one instead of replacing it). The Query protocol (API version 2011-01-01): a form-encoded POST to
/// <c>https://autoscaling.{region}.amazonaws.com/</c>, an XML answer, signed with SigV4 (signing name
/// <c>autoscaling</c>) by the same <see cref="EksSigner"/> as the EKS calls. Throttling, 5xx and transport failures are
/// retried with exponential backoff and jitter up to <see cref="EksOptions.MaxAttempts"/>.
/// </summary>
public sealed class AutoScalingClient
{
    /// <summary>The SigV4 signing name of EC2 Auto Scaling.</summary>
    public const string ServiceName = "autoscaling";

    /// <summary>The content type of a Query-protocol request, signed as sent.</summary>
    public const string FormContentType = "application/x-www-form-urlencoded; charset=utf-8";

    private const string Version = "2011-01-01";
    private readonly AwsSender _sender;

    /// <param name="http">Sends the requests.</param>
    /// <param name="options">Region, endpoint (<see cref="EksOptions.AutoScalingServiceUrl"/>) and retry settings.</param>
    /// <param name="credentials">Null: the SDK's default chain (IRSA in a pod), resolved at the first call.</param>
    /// <param name="timeProvider">The clock for signatures and backoff pauses.</param>
    /// <param name="logger">Retries are logged.</param>
    public AutoScalingClient(HttpClient http, EksOptions options, AWSCredentials? credentials = null, TimeProvider? timeProvider = null, ILogger<AutoScalingClient>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _sender = new AwsSender(http, options, ServiceName, FormContentType, credentials, timeProvider, logger);
        Endpoint = string.IsNullOrEmpty(options.AutoScalingServiceUrl)
            ? new Uri($"https://autoscaling.{options.Region}.amazonaws.com")
            : new Uri(options.AutoScalingServiceUrl);
    }

    public Uri Endpoint { get; }

    /// <summary><c>DescribeAutoScalingGroups</c> of one group by name: the call as it goes on the wire, unsigned.</summary>
    public EksCall DescribeAutoScalingGroupCall(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return Call("DescribeAutoScalingGroups", [new("AutoScalingGroupNames.member.1", name)]);
    }

    /// <summary><c>TerminateInstanceInAutoScalingGroup</c>: the call as it goes on the wire, unsigned.</summary>
    public EksCall TerminateInstanceCall(string instanceId, bool decrementDesiredCapacity)
    {
        ArgumentException.ThrowIfNullOrEmpty(instanceId);
        return Call("TerminateInstanceInAutoScalingGroup",
            [new("InstanceId", instanceId), new("ShouldDecrementDesiredCapacity", decrementDesiredCapacity ? "true" : "false")]);
    }

    /// <summary>The group named <paramref name="name"/> and its instances, or null when there is no such group.</summary>
    public async Task<AutoScalingGroup?> DescribeAutoScalingGroup(string name, CancellationToken cancellationToken)
    {
        var xml = await Send(DescribeAutoScalingGroupCall(name), cancellationToken).ConfigureAwait(false);
        var group = Elements(XDocument.Parse(xml).Root, "AutoScalingGroups", "member").FirstOrDefault();
        if (group is null)
        {
            return null;
        }

        var instances = Elements(group, "Instances", "member")
            .Select(i => new AutoScalingInstance(Text(i, "InstanceId") ?? "", Text(i, "AvailabilityZone") ?? "", Text(i, "LifecycleState") ?? ""))
            .ToList();
        return new AutoScalingGroup(Text(group, "AutoScalingGroupName") ?? name, Number(group, "MinSize"), Number(group, "MaxSize"), Number(group, "DesiredCapacity"), instances);
    }

    /// <summary>
    /// Terminates <paramref name="instanceId"/>; with <paramref name="decrementDesiredCapacity"/> its group's desired
    /// capacity drops by one, so the group does not launch a replacement. Returns the scaling activity's description.
    /// </summary>
    public async Task<string> TerminateInstanceInAutoScalingGroup(string instanceId, bool decrementDesiredCapacity, CancellationToken cancellationToken)
    {
        var xml = await Send(TerminateInstanceCall(instanceId, decrementDesiredCapacity), cancellationToken).ConfigureAwait(false);
        var activity = Elements(XDocument.Parse(xml).Root, "Activity").FirstOrDefault();
        return (activity is null ? null : Text(activity, "Description")) ?? $"terminating {instanceId}";
    }

    private EksCall Call(string action, IReadOnlyList<KeyValuePair<string, string>> parameters)
    {
        var body = new StringBuilder("Action=").Append(action).Append("&Version=").Append(Version);
        foreach (var (key, value) in parameters)
        {
            body.Append('&').Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value));
        }

        return new EksCall(action, HttpMethod.Post, Endpoint, "/", body: body.ToString());
    }

    private Task<string> Send(EksCall call, CancellationToken cancellationToken) =>
        _sender.Send(call, (response, body) =>
        {
            var error = Error(call.Operation, response.StatusCode, body);
            return (error, error.IsRetryable);
        }, cancellationToken);

    /// <summary>A Query-protocol error: <c>&lt;ErrorResponse&gt;&lt;Error&gt;&lt;Code/&gt;&lt;Message/&gt;</c>, or the body itself when it is not XML.</summary>
    internal static AutoScalingApiException Error(string operation, HttpStatusCode status, string body)
    {
        string? code = null;
        string? message = null;
        try
        {
            var error = Elements(XDocument.Parse(body).Root, "Error").FirstOrDefault();
            code = error is null ? null : Text(error, "Code");
            message = error is null ? null : Text(error, "Message");
        }
        catch (XmlException)
        {
            // Not XML (a proxy's page): the body is the message.
        }

        return new AutoScalingApiException(operation, status, code ?? status.ToString(), string.IsNullOrWhiteSpace(message) ? body.Trim() : message);
    }

    /// <summary>
    /// The elements reached by <paramref name="path"/>, by local name (the answers carry a namespace): the first step
    /// anywhere below <paramref name="root"/>, each further step among the children.
    /// </summary>
    private static IEnumerable<XElement> Elements(XElement? root, params string[] path)
    {
        if (root is null || path.Length == 0)
        {
            return [];
        }

        var level = root.Descendants().Where(e => e.Name.LocalName == path[0]).Take(1);
        foreach (var step in path.Skip(1))
        {
            level = level.SelectMany(e => e.Elements().Where(c => c.Name.LocalName == step));
        }

        return level;
    }

    private static string? Text(XElement element, string name) =>
        element.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;

    private static int Number(XElement element, string name) =>
        int.TryParse(Text(element, name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;
}

/// <summary>An Auto Scaling group and its instances.</summary>
public sealed record AutoScalingGroup(string Name, int MinSize, int MaxSize, int DesiredCapacity, IReadOnlyList<AutoScalingInstance> Instances);

/// <summary>One instance of an Auto Scaling group: its zone and lifecycle state (<c>InService</c>, <c>Terminating</c>…).</summary>
public sealed record AutoScalingInstance(string InstanceId, string AvailabilityZone, string LifecycleState);

/// <summary>An EC2 Auto Scaling call answered with an error: AWS's code (<c>ValidationError</c>, <c>Throttling</c>…) and message.</summary>
public sealed class AutoScalingApiException(string operation, HttpStatusCode statusCode, string code, string awsMessage)
    : Exception($"Auto Scaling {operation} failed with {code} ({(int)statusCode}): {awsMessage}")
{
    public string Operation { get; } = operation;

    public HttpStatusCode StatusCode { get; } = statusCode;

    public string Code { get; } = code;

    /// <summary>Throttling or a server error: worth another attempt.</summary>
    public bool IsRetryable => Code is "Throttling" or "ThrottlingException" or "RequestLimitExceeded" || (int)StatusCode >= 500;
}
