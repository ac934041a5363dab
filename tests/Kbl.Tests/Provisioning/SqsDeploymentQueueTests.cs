using Amazon.Runtime;
using Amazon.SQS;
using Amazon.SQS.Model;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Queue;
using Kbl.Provisioning;
using Kbl.Tests.Storage;
using Microsoft.Extensions.Options;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// <see cref="SqsDeploymentQueue"/> against moto_server's SQS (AWS JSON 1.0 protocol, as AWSSDK.SQS 4 speaks it). Each
/// test makes a queue of its own with the SDK (visibility timeout 30 s, or 1 s where a test waits for a redelivery).
/// </summary>
[Trait("Category", Category.AwsLocal)]
public sealed class SqsDeploymentQueueTests : IClassFixture<MotoFixture>, IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private readonly MotoFixture _moto;
    private readonly AmazonSQSClient _client;
    private readonly RecordingLogger<SqsDeploymentQueue> _logger = new();
    private SqsDeploymentQueue _queue = null!;
    private string _queueUrl = "";

    public SqsDeploymentQueueTests(MotoFixture moto)
    {
        _moto = moto;
        _client = new AmazonSQSClient(
            new BasicAWSCredentials("kbl-local", "kbl-local"),
            new AmazonSQSConfig { ServiceURL = moto.ServiceUrl, AuthenticationRegion = "us-east-1" });
    }

    public async Task InitializeAsync() => await UseNewQueue(visibilityTimeoutSeconds: 30);

    public Task DisposeAsync()
    {
        _queue.Dispose();
        _client.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Every_state_sent_is_received_whatever_the_order_and_duplicates()
    {
        long[] sent = [3, 1, 2, 2];
        foreach (var generation in sent)
        {
            await _queue.Send(State(generation), CancellationToken.None);
        }

        var received = await ReceiveAtLeast(_queue, sent.Length);

        Assert.Equal(sent.Order(), received.Select(m => m.Desired.Generation).Order());
        Assert.All(received, m => Assert.Equal(State(m.Desired.Generation), m.Desired, StateComparer.Instance));
        Assert.Equal(received.Count, received.Select(m => m.Receipt).Distinct().Count());
    }

    [Fact]
    public async Task A_message_carries_its_state_as_json_and_its_generation_as_a_number_attribute()
    {
        await _queue.Send(State(42), CancellationToken.None);

        var raw = await _client.ReceiveMessageAsync(new ReceiveMessageRequest
        {
            QueueUrl = _queueUrl,
            WaitTimeSeconds = 1,
            MessageAttributeNames = ["All"],
        });

        var message = Assert.Single(raw.Messages);
        Assert.Equal(ProvisioningJson.Serialize(State(42)), message.Body);
        var generation = message.MessageAttributes[SqsDeploymentQueue.GenerationAttribute];
        Assert.Equal(("Number", "42"), (generation.DataType, generation.StringValue));
    }

    [Fact]
    public async Task A_deleted_message_is_gone_and_one_not_deleted_comes_back_after_its_visibility_timeout()
    {
        await UseNewQueue(visibilityTimeoutSeconds: 1);
        await _queue.Send(State(1), CancellationToken.None);
        await _queue.Send(State(2), CancellationToken.None);
        var first = await ReceiveAtLeast(_queue, 2);
        await _queue.Delete(first.Last(m => m.Desired.Generation == 1), CancellationToken.None);

        // Generation 2 was received and not deleted: it is delivered again once its visibility timeout (1 s) ends.
        var again = await ReceiveAtLeast(_queue, 1);

        var redelivered = Assert.Single(again);
        Assert.Equal(2, redelivered.Desired.Generation);
        await _queue.Delete(redelivered, CancellationToken.None);
        Assert.Equal(0, await MessagesInQueue());
    }

    [Fact]
    public async Task Malformed_bodies_are_deleted_and_logged_never_returned_or_thrown()
    {
        foreach (var body in new[] { "not json", "{}", "null", "{\"generation\":5,\"groups\":[{\"min\":1}]}" })
        {
            await _client.SendMessageAsync(new SendMessageRequest { QueueUrl = _queueUrl, MessageBody = body });
        }

        await _queue.Send(State(7), CancellationToken.None);

        // Poll until every message has been seen once: the good one is returned, the four bad ones logged.
        var received = new List<QueuedState>();
        await Eventually.Until(
            async () =>
            {
                received.AddRange(await _queue.Receive(TimeSpan.FromSeconds(1), CancellationToken.None));
                return (received.Count, Malformed: _logger.Entries.Count(e => e.EventId.Id == 51000));
            },
            seen => seen.Count >= 1 && seen.Malformed >= 4,
            Deadline,
            "the good message received and the four malformed ones logged");

        Assert.All(received, m => Assert.Equal(7, m.Desired.Generation));
        await _queue.Delete(received[^1], CancellationToken.None);

        // Deleted, not merely hidden for a visibility timeout: the queue is empty at once.
        Assert.Equal(0, await MessagesInQueue());
        Assert.Equal(4, _logger.Entries.Count(e => e.EventId.Id == 51000));
    }

    [Fact]
    public async Task An_empty_queue_answers_an_empty_list_after_the_wait()
    {
        var received = await _queue.Receive(TimeSpan.FromMilliseconds(200), CancellationToken.None);

        Assert.Empty(received);
    }

    [Theory]
    [InlineData(-1000, 0)]
    [InlineData(0, 0)]
    [InlineData(200, 1)]
    [InlineData(1000, 1)]
    [InlineData(1500, 2)]
    [InlineData(20_000, 20)]
    [InlineData(600_000, 20)]
    public void The_long_poll_is_the_wait_in_whole_seconds_capped_at_twenty(int milliseconds, int seconds) =>
        Assert.Equal(seconds, SqsDeploymentQueue.WaitSeconds(TimeSpan.FromMilliseconds(milliseconds)));

    [Fact]
    public async Task The_options_constructor_talks_to_the_configured_service_url()
    {
        var options = Options.Create(new ProvisioningOptions
        {
            Queue = QueueKind.Sqs,
            Sqs = { QueueUrl = _queueUrl, ServiceUrl = _moto.ServiceUrl, Region = "us-east-1" },
        });
        using var queue = new SqsDeploymentQueue(options, new RecordingLogger<SqsDeploymentQueue>());

        await queue.Send(State(9), CancellationToken.None);

        Assert.Equal(9, Assert.Single(await ReceiveAtLeast(_queue, 1)).Desired.Generation);
    }

    [Fact]
    public void A_queue_url_that_is_not_a_url_is_refused_at_construction()
    {
        var options = Options.Create(new ProvisioningOptions { Sqs = { QueueUrl = "" } });
        Assert.Throws<ArgumentException>(() => new SqsDeploymentQueue(options, new RecordingLogger<SqsDeploymentQueue>()));
    }

    private static DesiredState State(long generation) => new(
        generation,
        new DateTimeOffset(2026, 11, 25, 12, 0, 0, TimeSpan.Zero).AddMinutes(generation),
        [
            new NodeGroupSpec(
                "hot",
                Min: 2,
                Max: 8,
                Desired: (int)(2 + generation),
                InstanceType: "m7g.large",
                Zones: ["us-east-1a", "us-east-1b"],
                Labels: new Dictionary<string, string> { ["kbl/tier"] = "hot" },
                Taints: [new NodeTaint("kbl/dedicated", "hot", "NO_SCHEDULE")],
                Subtrees: ["orders", "orders/r.2"]),
        ]);

    /// <summary>Receives until at least <paramref name="count"/> states came (SQS may return fewer than are there).</summary>
    private static async Task<List<QueuedState>> ReceiveAtLeast(SqsDeploymentQueue queue, int count)
    {
        var received = new List<QueuedState>();
        await Eventually.Until(
            async () =>
            {
                received.AddRange(await queue.Receive(TimeSpan.FromSeconds(1), CancellationToken.None));
                return received.Count;
            },
            n => n >= count,
            Deadline,
            $"{count} messages received");
        return received;
    }

    private async Task UseNewQueue(int visibilityTimeoutSeconds)
    {
        var created = await _client.CreateQueueAsync(new CreateQueueRequest
        {
            QueueName = "kbl-deployments-" + Guid.NewGuid().ToString("N")[..12],
            Attributes = new Dictionary<string, string>
            {
                [QueueAttributeName.VisibilityTimeout] = visibilityTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
        });
        _queueUrl = created.QueueUrl;
        _queue = new SqsDeploymentQueue(_client, _queueUrl, _logger);
    }

    private async Task<int> MessagesInQueue()
    {
        var attributes = await _client.GetQueueAttributesAsync(new GetQueueAttributesRequest
        {
            QueueUrl = _queueUrl,
            AttributeNames = [QueueAttributeName.ApproximateNumberOfMessages, QueueAttributeName.ApproximateNumberOfMessagesNotVisible],
        });
        return attributes.ApproximateNumberOfMessages + attributes.ApproximateNumberOfMessagesNotVisible;
    }

    /// <summary>Desired states are equal when their JSON is (records compare their lists by reference).</summary>
    private sealed class StateComparer : IEqualityComparer<DesiredState>
    {
        public static readonly StateComparer Instance = new();

        public bool Equals(DesiredState? x, DesiredState? y) => ProvisioningJson.Serialize(x) == ProvisioningJson.Serialize(y);

        public int GetHashCode(DesiredState obj) => ProvisioningJson.Serialize(obj).GetHashCode(StringComparison.Ordinal);
    }
}
