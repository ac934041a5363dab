using System.Globalization;
using System.Text.Json;
using Amazon;
using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;
using Amazon.SQS;
using Amazon.SQS.Model;
using Kbl.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kbl.NodeGroups.Queue;

/// <summary>
/// The deployment queue on an Amazon SQS standard queue (<see cref="SqsOptions.QueueUrl"/>): the silos send,
/// the Provisioner receives and deletes.
/// </summary>
/// <remarks>
/// <para>A message's body is the <see cref="DesiredState"/> in <see cref="ProvisioningJson"/>; its
/// <see cref="GenerationAttribute"/> message attribute repeats the generation, so a queue can be inspected (and a
/// future filter can decide) without parsing bodies. SQS standard queues deliver at least once and in no order,
/// which the contract of <see cref="IDeploymentQueue"/> already allows.</para>
/// <para>A body that is not a desired state is deleted and logged, never handed on and never thrown: it could not
/// become valid by being received again, and one bad message must not stop the Provisioner's loop.</para>
/// </remarks>
public sealed partial class SqsDeploymentQueue : IDeploymentQueue, IDisposable
{
    /// <summary>The message attribute (SQS type Number) that carries a message's generation.</summary>
    public const string GenerationAttribute = "generation";

    /// <summary>SQS's longest long poll.</summary>
    public const int MaxWaitSeconds = 20;

    /// <summary>SQS's largest batch per receive.</summary>
    public const int MaxMessages = 10;

    private readonly IAmazonSQS _client;
    private readonly bool _ownsClient;
    private readonly string _queueUrl;
    private readonly ILogger<SqsDeploymentQueue> _logger;

    /// <summary>
    /// The queue of <see cref="ProvisioningOptions.Sqs"/>: AWS's SQS endpoint of <see cref="SqsOptions.Region"/> with
    /// the SDK's default credential chain (environment, profile, web identity (IRSA), container, instance profile),
    /// or <see cref="SqsOptions.ServiceUrl"/> when set (a local SQS such as moto_server).
    /// </summary>
    public SqsDeploymentQueue(IOptions<ProvisioningOptions> options, ILogger<SqsDeploymentQueue> logger)
        : this(CreateClient(SqsOf(options)), SqsOf(options).QueueUrl, logger, ownsClient: true)
    {
    }

    /// <summary>The queue at <paramref name="queueUrl"/> through a client the caller made (and disposes).</summary>
    public SqsDeploymentQueue(IAmazonSQS client, string queueUrl, ILogger<SqsDeploymentQueue> logger)
        : this(client, queueUrl, logger, ownsClient: false)
    {
    }

    private SqsDeploymentQueue(IAmazonSQS client, string queueUrl, ILogger<SqsDeploymentQueue> logger, bool ownsClient)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(logger);
        if (!Uri.TryCreate(queueUrl, UriKind.Absolute, out _))
        {
            throw new ArgumentException($"Kbl:Provisioning:Sqs:QueueUrl '{queueUrl}' is not an absolute URL", nameof(queueUrl));
        }

        _client = client;
        _queueUrl = queueUrl;
        _logger = logger;
        _ownsClient = ownsClient;
    }

    /// <summary>The queue this sends to and receives from.</summary>
    public string QueueUrl => _queueUrl;

    /// <inheritdoc />
    public async Task Send(DesiredState desired, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(desired);
        await _client.SendMessageAsync(
            new SendMessageRequest
            {
                QueueUrl = _queueUrl,
                MessageBody = ProvisioningJson.Serialize(desired),
                MessageAttributes = new Dictionary<string, MessageAttributeValue>(StringComparer.Ordinal)
                {
                    [GenerationAttribute] = new()
                    {
                        DataType = "Number",
                        StringValue = desired.Generation.ToString(CultureInfo.InvariantCulture),
                    },
                },
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Checks at start that the queue exists and answers (one <c>GetQueueAttributes</c>), within
    /// <paramref name="timeout"/>; throws <see cref="KblDependencyException"/> naming the queue when it does not.
    /// </summary>
    public async Task EnsureReachableAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await _client.GetQueueAttributesAsync(
                new GetQueueAttributesRequest { QueueUrl = _queueUrl, AttributeNames = ["QueueArn"] },
                deadline.Token).ConfigureAwait(false);
        }
        catch (QueueDoesNotExistException e)
        {
            throw new KblDependencyException($"SQS queue {_queueUrl} (Kbl:Provisioning:Sqs:QueueUrl) does not exist: {KblDependencyException.FirstLine(e.Message)}", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new KblDependencyException($"SQS queue {_queueUrl} (Kbl:Provisioning:Sqs:QueueUrl) did not answer within {timeout.TotalSeconds:0} s", e);
        }
        catch (Exception e) when (e is AmazonServiceException or AmazonClientException or HttpRequestException)
        {
            throw new KblDependencyException($"SQS queue {_queueUrl} (Kbl:Provisioning:Sqs:QueueUrl) is unreachable: {KblDependencyException.FirstLine(e.Message)}", e);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// One long poll of <paramref name="wait"/> rounded up to whole seconds, at most <see cref="MaxWaitSeconds"/>
    /// (zero or less: a short poll), for up to <see cref="MaxMessages"/> messages.
    /// </remarks>
    public async Task<IReadOnlyList<QueuedState>> Receive(TimeSpan wait, CancellationToken cancellationToken)
    {
        var response = await _client.ReceiveMessageAsync(
            new ReceiveMessageRequest
            {
                QueueUrl = _queueUrl,
                MaxNumberOfMessages = MaxMessages,
                WaitTimeSeconds = WaitSeconds(wait),
                MessageAttributeNames = [GenerationAttribute],
            },
            cancellationToken).ConfigureAwait(false);

        // AWSSDK 4 leaves an empty list null.
        var received = new List<QueuedState>();
        foreach (var message in response.Messages ?? [])
        {
            if (Parse(message.Body) is { } desired)
            {
                received.Add(new QueuedState(desired, message.ReceiptHandle));
                continue;
            }

            LogMalformed(_logger, message.MessageId, Excerpt(message.Body));
            await DeleteMalformed(message, cancellationToken).ConfigureAwait(false);
        }

        return received;
    }

    /// <inheritdoc />
    public async Task Delete(QueuedState message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        await _client.DeleteMessageAsync(
            new DeleteMessageRequest { QueueUrl = _queueUrl, ReceiptHandle = message.Receipt },
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsClient)
        {
            _client.Dispose();
        }
    }

    /// <summary>The long poll SQS is asked for: whole seconds, rounded up, 0 to <see cref="MaxWaitSeconds"/>.</summary>
    internal static int WaitSeconds(TimeSpan wait) =>
        wait <= TimeSpan.Zero ? 0
        : wait >= TimeSpan.FromSeconds(MaxWaitSeconds) ? MaxWaitSeconds
        : (int)Math.Ceiling(wait.TotalSeconds);

    /// <summary>The client for <paramref name="options"/> (see the options constructor).</summary>
    internal static AmazonSQSClient CreateClient(SqsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Region, "Kbl:Provisioning:Sqs:Region");
        var config = new AmazonSQSConfig();
        if (string.IsNullOrEmpty(options.ServiceUrl))
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
            return new AmazonSQSClient(config);
        }

        config.ServiceURL = options.ServiceUrl;
        config.AuthenticationRegion = options.Region;
        return new AmazonSQSClient(LocalEndpointCredentials(), config);
    }

    /// <summary>
    /// Credentials for a local endpoint: the default chain's sources that need no network (environment, profile,
    /// web identity, container), else dummy keys, which a local SQS accepts. The chain's last source, the EC2
    /// instance metadata service, is never asked: off EC2 it only times out.
    /// </summary>
    private static AWSCredentials LocalEndpointCredentials()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID")))
        {
            return new EnvironmentVariablesAWSCredentials();
        }

        if (new CredentialProfileStoreChain().TryGetAWSCredentials(Environment.GetEnvironmentVariable("AWS_PROFILE") ?? "default", out var profile))
        {
            return profile;
        }

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_WEB_IDENTITY_TOKEN_FILE")))
        {
            return AssumeRoleWithWebIdentityCredentials.FromEnvironmentVariables();
        }

        return !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
            ? new GenericContainerCredentials()
            : new BasicAWSCredentials("kbl-local", "kbl-local");
    }

    private static SqsOptions SqsOf(IOptions<ProvisioningOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Value.Sqs;
    }

    /// <summary>The desired state in a body, or null when the body is not one.</summary>
    private static DesiredState? Parse(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        try
        {
            var desired = ProvisioningJson.Deserialize<DesiredState>(body);

            // Missing constructor parameters deserialize to defaults: a body without groups is not a state.
            return desired.Groups is { } groups && groups.All(g => g is { Name.Length: > 0 }) ? desired : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Excerpt(string? body) =>
        body is null ? "(none)" : body.Length <= 200 ? body : string.Concat(body.AsSpan(0, 200), "…");

    private async Task DeleteMalformed(Message message, CancellationToken cancellationToken)
    {
        try
        {
            await _client.DeleteMessageAsync(
                new DeleteMessageRequest { QueueUrl = _queueUrl, ReceiptHandle = message.ReceiptHandle },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is AmazonServiceException or AmazonClientException or HttpRequestException)
        {
            // It comes back after its visibility timeout and is deleted then.
            LogDeleteMalformedFailed(_logger, e, message.MessageId);
        }
    }

    [LoggerMessage(EventId = 51000, Level = LogLevel.Warning,
        Message = "Deployment queue: message {MessageId} is not a desired state and is deleted; body: {Body}")]
    private static partial void LogMalformed(ILogger logger, string messageId, string body);

    [LoggerMessage(EventId = 51001, Level = LogLevel.Warning,
        Message = "Deployment queue: could not delete the malformed message {MessageId}; it is deleted when it is received again")]
    private static partial void LogDeleteMalformedFailed(ILogger logger, Exception exception, string messageId);
}
