using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Kbl.ColdTier;
using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Hosting;
using Kbl.Placement;
using Kbl.Tests.Cluster;
using Kbl.Tests.Faults;
using Kbl.Tests.Storage;
using Kbl.Tree;
using Microsoft.Extensions.DependencyInjection;

namespace Kbl.Tests.ColdTier;

/// <summary>
/// Hibernation through the S3 cold tier, against moto_server's S3: a two-silo cluster whose silos keep hibernated
/// shards in one bucket; a colony hibernates (its snapshots are objects under the bucket's prefix), wakes with every
/// record, and its delete removes its objects.
/// </summary>
[Trait("Category", Category.AwsLocal)]
public sealed class S3HibernationTests(MotoFixture moto) : IClassFixture<MotoFixture>
{
    private static readonly AWSCredentials Credentials = new BasicAWSCredentials("kbl-local", "kbl-local");

    [Fact]
    public async Task A_colony_hibernates_into_the_bucket_wakes_with_every_record_and_its_delete_empties_the_bucket()
    {
        var s3 = new ColdTierS3Options { Bucket = $"kbl-{Guid.NewGuid():N}"[..20], Prefix = "kbl/test/", ServiceUrl = moto.ServiceUrl };
        using var client = new AmazonS3Client(Credentials, new AmazonS3Config { ServiceURL = moto.ServiceUrl, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
        await client.PutBucketAsync(s3.Bucket);
        var cluster = new S3Cluster(s3);
        await cluster.InitializeAsync();
        try
        {
            var colony = $"s{Guid.NewGuid():N}"[..12];
            var root = cluster.Grains.GetGrain<IKblGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath));
            await root.Configure(Genome.NewColony with { SplitKeys = 80, MergeKeys = 8 });
            var model = new ColonyModel(cluster.Router, colony);
            for (var i = 0; i < 200; i++)
            {
                await model.Put($"k{i:d3}", $"v{i}");
            }

            var leaves = TreeWalk.Leaves(await root.GetTree()).Count();
            var hibernated = await cluster.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).Hibernate();
            Assert.Equal(new WindowResult(true, leaves, 0), hibernated);
            Assert.Equal(leaves, (await Objects(client, s3, colony)).Count);

            await model.Check(); // every record, each leaf woken from its object
            Assert.Empty(await Objects(client, s3, colony));
            Assert.All(TreeWalk.Leaves(await root.GetTree()), l => Assert.Null(l.Hibernation));

            Assert.Equal(new WindowResult(true, leaves, 0), await cluster.Grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, ColonyNames.RootPath)).Hibernate());
            await Eventually.Until(async () => (await root.DeleteColony()).Status, s => s is ColonyDeletionStatus.Deleted or ColonyDeletionStatus.NoColony, TimeSpan.FromSeconds(60), "the colony deleted");
            Assert.Empty(await Objects(client, s3, colony));
        }
        finally
        {
            await cluster.DisposeAsync();
        }
    }

    private static async Task<List<string>> Objects(AmazonS3Client client, ColdTierS3Options s3, string colony) =>
        [.. ((await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = s3.Bucket, Prefix = $"{s3.Prefix}{colony}/" })).S3Objects ?? []).Select(o => o.Key)];

    /// <summary>Two silos of one group whose cold tier is the S3 bucket (credentials given: moto takes any).</summary>
    private sealed class S3Cluster(ColdTierS3Options s3) : KblTestCluster(2, "s3-tier")
    {
        protected override (KblOptions Kbl, KblPlacementOptions? Placement) Configure(int index, KblOptions options)
        {
            options.FeedbackPeriod = TimeSpan.FromMilliseconds(200);
            return (options, new KblPlacementOptions { LoadRefresh = TimeSpan.FromMilliseconds(200), RebalancePeriod = TimeSpan.Zero });
        }

        protected override void ConfigureSilo(int index, ISiloBuilder silo) =>
            silo.Services.AddSingleton<IColdTier>(_ => new S3ColdTier(s3, Credentials));
    }
}
