using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Kbl.ColdTier;
using Kbl.Hosting;
using Kbl.Tests.Storage;

namespace Kbl.Tests.ColdTier;

/// <summary>
/// The S3 cold tier against moto_server's S3 (<see cref="ColdTierConformance"/>), each test in a bucket of its own,
/// under a prefix; and a snapshot larger than a part goes up as a multipart upload.
/// </summary>
[Trait("Category", Category.AwsLocal)]
public sealed class S3ColdTierTests : ColdTierConformance, IClassFixture<MotoFixture>, IAsyncLifetime
{
    private static readonly AWSCredentials Credentials = new BasicAWSCredentials("kbl-local", "kbl-local");
    private readonly ColdTierS3Options _options;
    private readonly S3ColdTier _tier;
    private readonly AmazonS3Client _s3;

    public S3ColdTierTests(MotoFixture moto)
    {
        _options = new ColdTierS3Options { Bucket = $"kbl-{Guid.NewGuid():N}"[..20], Prefix = "kbl/test/", ServiceUrl = moto.ServiceUrl, PartBytes = 5L << 20 };
        _tier = new S3ColdTier(_options, Credentials);
        _s3 = new AmazonS3Client(Credentials, new AmazonS3Config { ServiceURL = moto.ServiceUrl, ForcePathStyle = true, AuthenticationRegion = "us-east-1" });
    }

    protected override IColdTier Tier => _tier;

    public async Task InitializeAsync() => await _s3.PutBucketAsync(_options.Bucket);

    public Task DisposeAsync()
    {
        _tier.Dispose();
        _s3.Dispose();
        return Task.CompletedTask;
    }

    protected override Task Tamper(string key, byte[] content) =>
        _s3.PutObjectAsync(new PutObjectRequest { BucketName = _options.Bucket, Key = _options.Prefix + key, InputStream = new MemoryStream(content) });

    [Fact]
    public async Task A_snapshot_larger_than_a_part_goes_up_in_parts_and_reads_back_whole()
    {
        var content = System.Security.Cryptography.RandomNumberGenerator.GetBytes(12 << 20);
        var stored = await _tier.Upload("c/1/r/1.sst", Write(content));

        // S3 names a multipart object's ETag after its parts: "<md5 of the parts' md5s>-<parts>".
        var head = await _s3.GetObjectMetadataAsync(_options.Bucket, _options.Prefix + "c/1/r/1.sst");
        Assert.EndsWith("-3\"", head.ETag, StringComparison.Ordinal);

        var copy = Write([]);
        File.Delete(copy);
        await _tier.Download(stored, copy);
        Assert.Equal(content, await File.ReadAllBytesAsync(copy));
    }
}
