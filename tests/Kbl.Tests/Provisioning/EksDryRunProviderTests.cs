using Kbl.NodeGroups;
using Kbl.NodeGroups.Eks;
using Kbl.NodeGroups.Providers;
using Kbl.Provisioning;

namespace Kbl.Tests.Provisioning;

/// <summary>The dry run prints the eks provider's calls (named Eks… so the EKS test filter picks it up).</summary>
[Collection(EksMotoCollection.Name)]
[Trait("Category", Category.AwsLocal)]
public sealed class EksDryRunProviderTests(EksMoto aws)
{
    private static readonly NodeGroupSpec Hot = new(
        "kbl-hot", 1, 4, 2, "m5.large", [],
        new Dictionary<string, string> { ["kbl.io/tier"] = "hot" },
        [new NodeTaint("kbl.io/hot", "true", "NO_SCHEDULE")],
        ["orders"]);

    private static readonly NodeGroupSpec Cold = new(
        "kbl-cold", 0, 3, 2, "t3.large", ["us-east-1b"],
        new Dictionary<string, string> { ["team"] = "data" },
        [],
        ["archive"]);

    private static readonly NodeGroupSpec HotScaledAndRelabelled = Hot with
    {
        Max = 6,
        Desired = 5,
        Labels = new Dictionary<string, string> { ["kbl.io/tier"] = "warm" },
        Taints = [],
    };

    [Fact]
    public async Task Prints_the_exact_calls_from_nothing_to_two_groups_then_a_scale_up_and_a_removal()
    {
        var options = new EksOptions { ClusterName = "kbl", Region = "us-east-1", NodeRole = EksMoto.NodeRole, Subnets = ["subnet-0a", "subnet-0b"], ZonalNodeGroups = false };
        using var output = new StringWriter { NewLine = "\n" };
        var dryRun = new DryRunProvider(options, output, new KubernetesOptions());

        var first = await dryRun.Reconcile(new DesiredState(1, DateTimeOffset.UnixEpoch, [Hot, Cold]), CancellationToken.None);
        var afterFirst = output.ToString();
        var second = await dryRun.Reconcile(new DesiredState(2, DateTimeOffset.UnixEpoch, [HotScaledAndRelabelled]), CancellationToken.None);
        var repeated = await dryRun.Reconcile(new DesiredState(2, DateTimeOffset.UnixEpoch, [HotScaledAndRelabelled]), CancellationToken.None);

        // Tokens: the first 16 bytes of SHA-256("{cluster}\n{group}\n{generation}\n{operation}\n{body without token}") as a
        // UUID, computed apart from Kbl (Python's hashlib), so they stay the same across versions and retries.
        const string Eks = "https://eks.us-east-1.amazonaws.com/clusters/kbl/node-groups";
        const string StatefulSets = "https://kubernetes.default.svc/apis/apps/v1/namespaces/kbl/statefulsets";
        Assert.Equal(
            $$$"""
            POST {{{Eks}}} {"nodegroupName":"kbl-hot","scalingConfig":{"minSize":1,"maxSize":4,"desiredSize":2},"subnets":["subnet-0a","subnet-0b"],"instanceTypes":["m5.large"],"nodeRole":"arn:aws:iam::123456789012:role/kbl-nodes","labels":{"kbl.io/node-group":"kbl-hot","kbl.io/tier":"hot"},"taints":[{"key":"kbl.io/hot","value":"true","effect":"NO_SCHEDULE"}],"tags":{"kbl.io/created-by":"kbl","kbl.io/managed-by":"kbl"},"clientRequestToken":"9e3b84f5-48b4-9ce7-7db7-6c28d22d5b91"}
            PATCH {{{StatefulSets}}}/kbl-kbl-hot/scale {"spec":{"replicas":2}}
            POST {{{Eks}}} {"nodegroupName":"kbl-cold","scalingConfig":{"minSize":0,"maxSize":3,"desiredSize":2},"subnets":["subnet-0a","subnet-0b"],"instanceTypes":["t3.large"],"nodeRole":"arn:aws:iam::123456789012:role/kbl-nodes","labels":{"kbl.io/node-group":"kbl-cold","team":"data"},"tags":{"kbl.io/created-by":"kbl","kbl.io/managed-by":"kbl"},"clientRequestToken":"640a1a90-8487-7bf0-45a9-8fcda1cb255f"}
            PATCH {{{StatefulSets}}}/kbl-kbl-cold/scale {"spec":{"replicas":2}}

            """,
            afterFirst);
        Assert.Equal(
            $$$"""
            POST {{{Eks}}}/kbl-hot/update-config {"labels":{"addOrUpdateLabels":{"kbl.io/tier":"warm"}},"taints":{"removeTaints":[{"key":"kbl.io/hot","value":"true","effect":"NO_SCHEDULE"}]},"scalingConfig":{"minSize":1,"maxSize":6,"desiredSize":5},"clientRequestToken":"bdf0e921-f5a6-2cf1-f4e6-b48c4ea85d23"}
            PATCH {{{StatefulSets}}}/kbl-kbl-hot/scale {"spec":{"replicas":5}}
            PATCH {{{StatefulSets}}}/kbl-kbl-cold/scale {"spec":{"replicas":0}}
            DELETE {{{StatefulSets}}}/kbl-kbl-cold
            DELETE {{{Eks}}}/kbl-cold

            """,
            output.ToString()[afterFirst.Length..]);
        Assert.True(first.Matches(new DesiredState(1, DateTimeOffset.UnixEpoch, [Hot, Cold])));
        Assert.True(second.Matches(new DesiredState(2, DateTimeOffset.UnixEpoch, [HotScaledAndRelabelled])));
        Assert.True(repeated.Matches(new DesiredState(2, DateTimeOffset.UnixEpoch, [HotScaledAndRelabelled])));
        Assert.Equal("dry-run", second.Provider);
    }

    [Fact]
    public async Task Prints_what_the_eks_provider_sends_for_the_same_transitions()
    {
        aws.Proxy.Reset();
        var options = aws.Options("kbl-dry");
        using var http = new HttpClient();
        using var ec2 = aws.Ec2();
        var client = EksMoto.Client(http, options);
        await aws.CreateCluster(client, "kbl-dry");
        var eks = new EksNodeGroupProvider(client, aws.Zones(ec2, client), options);
        using var output = new StringWriter { NewLine = "\n" };
        var dryRun = new DryRunProvider(options, output, subnets: aws.Zones(ec2, client));

        DesiredState[] transitions =
        [
            new(1, DateTimeOffset.UnixEpoch, [Hot, Cold]),
            new(2, DateTimeOffset.UnixEpoch, [HotScaledAndRelabelled, Cold with { Desired = 1, Taints = [new NodeTaint("kbl.io/cold", "", "PREFER_NO_SCHEDULE")] }]),
            new(3, DateTimeOffset.UnixEpoch, [Cold]),
        ];
        foreach (var desired in transitions)
        {
            var printedBefore = output.ToString().Length;
            var sentBefore = aws.Proxy.Requests.Count;

            Assert.True((await eks.Reconcile(desired, CancellationToken.None)).Matches(desired));
            await dryRun.Reconcile(desired, CancellationToken.None);

            var printed = output.ToString()[printedBefore..].Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var sent = aws.Proxy.Requests.Skip(sentBefore).Where(r => r.IsMutating)
                .Select(r => r.Body.Length == 0 ? $"{r.Method} {aws.Proxy.Url}{r.PathAndQuery}" : $"{r.Method} {aws.Proxy.Url}{r.PathAndQuery} {r.Body}");
            Assert.NotEmpty(printed);
            Assert.Equal(sent.Order(StringComparer.Ordinal), printed.Order(StringComparer.Ordinal));
        }
    }
}
