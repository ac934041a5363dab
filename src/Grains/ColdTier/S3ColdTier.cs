using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using Kbl.Hosting;

namespace Kbl.ColdTier;

/// <summary>
/// The cold tier on AWS: objects in an S3 bucket under a prefix (<c>Kbl:ColdTier:S3</c>). Large snapshots go up in
/// parts (multipart upload, <c>PartBytes</c> each); credentials come from the default chain (IRSA on EKS) unless a
/// caller gives some. S3's own checksums are asked only where S3 requires them: every read is checked against the
/// SHA-256 the shard recorded when it was written.
/// </summary>
public sealed class S3ColdTier : IColdTier, IDisposable
{
    private readonly AmazonS3Client _client;
    private readonly TransferUtility _transfer;
    private readonly ColdTierS3Options _options;

    public S3ColdTier(ColdTierS3Options options, AWSCredentials? credentials = null)
    {
        _options = options;
        var config = new AmazonS3Config
        {
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (options.ServiceUrl is { Length: > 0 } url)
        {
            config.ServiceURL = url;
            config.ForcePathStyle = true; // an endpoint of one's own (moto, MinIO) rarely serves bucket subdomains
            config.AuthenticationRegion = options.Region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(options.Region);
        }

        _client = credentials is null ? new AmazonS3Client(config) : new AmazonS3Client(credentials, config);
        _transfer = new TransferUtility(_client, new TransferUtilityConfig { MinSizeBeforePartUpload = options.PartBytes });
    }

    public async Task<ColdObject> Upload(string key, string file, CancellationToken cancellationToken = default)
    {
        ColdKeys.Check(key);
        var (bytes, sha256) = await ColdFiles.Hash(file, cancellationToken);
        await _transfer.UploadAsync(new TransferUtilityUploadRequest
        {
            BucketName = _options.Bucket,
            Key = ObjectKey(key),
            FilePath = file,
            PartSize = _options.PartBytes,
            Metadata = { ["kbl-sha256"] = sha256 },
        }, cancellationToken);
        return new ColdObject(key, bytes, sha256);
    }

    public async Task Download(ColdObject stored, string file, CancellationToken cancellationToken = default)
    {
        ColdKeys.Check(stored.Key);
        GetObjectResponse response;
        try
        {
            response = await _client.GetObjectAsync(_options.Bucket, ObjectKey(stored.Key), cancellationToken);
        }
        catch (AmazonS3Exception e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            throw new ColdTierException($"cold-tier object {stored.Key} is missing from s3://{_options.Bucket}/{_options.Prefix}", e);
        }

        using (response)
        {
            var (bytes, sha256) = await ColdFiles.CopyToFile(response.ResponseStream, file, cancellationToken);
            ColdFiles.Verify(stored, bytes, sha256, $"s3://{_options.Bucket}/{ObjectKey(stored.Key)}");
        }
    }

    public async Task DeletePrefix(string prefix, CancellationToken cancellationToken = default)
    {
        ColdKeys.CheckFolder(prefix);
        var request = new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = ObjectKey(prefix) };
        ListObjectsV2Response page;
        do
        {
            page = await _client.ListObjectsV2Async(request, cancellationToken);
            if (page.S3Objects is { Count: > 0 } objects)
            {
                await _client.DeleteObjectsAsync(new DeleteObjectsRequest
                {
                    BucketName = _options.Bucket,
                    Objects = [.. objects.Select(o => new KeyVersion { Key = o.Key })],
                }, cancellationToken);
            }

            request.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);
    }

    public void Dispose()
    {
        _transfer.Dispose();
        _client.Dispose();
    }

    private string ObjectKey(string key) => _options.Prefix + key;
}
