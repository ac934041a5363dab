namespace Kbl.Hosting;

/// <summary>Where hibernated shards are kept: section <c>Kbl:ColdTier</c>.</summary>
public sealed class ColdTierOptions
{
    public const string Section = "Kbl:ColdTier";

    /// <summary><c>local</c> (a directory shared by the silos of one machine; the default) or <c>s3</c>.</summary>
    public ColdTierMode Mode { get; set; } = ColdTierMode.Local;

    /// <summary>The directory of the local tier; relative paths from the process's current directory, as the SQLite file's.</summary>
    public string Path { get; set; } = "data/cold-tier";

    public ColdTierS3Options S3 { get; set; } = new();
}

public enum ColdTierMode
{
    /// <summary>A directory of this machine (<see cref="ColdTierOptions.Path"/>).</summary>
    Local = 0,

    /// <summary>An S3 bucket (<see cref="ColdTierOptions.S3"/>).</summary>
    S3 = 1,
}

/// <summary>The S3 cold tier: section <c>Kbl:ColdTier:S3</c>.</summary>
public sealed class ColdTierS3Options
{
    public const string Section = "Kbl:ColdTier:S3";

    public string Bucket { get; set; } = "";

    /// <summary>Put in front of every key (e.g. <c>kbl/prod/</c>); empty or ending with '/'.</summary>
    public string Prefix { get; set; } = "";

    /// <summary>An endpoint of S3's API other than AWS's (moto, MinIO); empty for AWS.</summary>
    public string ServiceUrl { get; set; } = "";

    public string Region { get; set; } = "us-east-1";

    /// <summary>Snapshots larger than this go up in parts of this size (multipart upload; S3 wants at least 5 MiB).</summary>
    public long PartBytes { get; set; } = 16L << 20;
}
