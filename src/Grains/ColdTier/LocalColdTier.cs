namespace Kbl.ColdTier;

/// <summary>
/// The cold tier of one machine: a directory (<c>Kbl:ColdTier:Path</c>) shared by the silos that run there, as the
/// SQLite metadata file is. An object is written to a temporary name, synced, then renamed into place, so a crash
/// never leaves a partial object under its key.
/// </summary>
public sealed class LocalColdTier(string root) : IColdTier
{
    public string Root { get; } = Path.GetFullPath(root);

    public async Task<ColdObject> Upload(string key, string file, CancellationToken cancellationToken = default)
    {
        var target = PathOf(key);
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var staging = $"{target}.{Guid.NewGuid():N}.partial";
        try
        {
            (long Bytes, string Sha256) written;
            await using (var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true))
            {
                written = await ColdFiles.CopyToFile(input, staging, cancellationToken);
            }

            File.Move(staging, target, overwrite: true);
            return new ColdObject(key, written.Bytes, written.Sha256);
        }
        finally
        {
            File.Delete(staging); // gone already when it was moved into place
        }
    }

    public async Task Download(ColdObject stored, string file, CancellationToken cancellationToken = default)
    {
        FileStream input;
        try
        {
            input = new FileStream(PathOf(stored.Key), FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new ColdTierException($"cold-tier object {stored.Key} is missing from {Root}", e);
        }

        await using (input)
        {
            var (bytes, sha256) = await ColdFiles.CopyToFile(input, file, cancellationToken);
            ColdFiles.Verify(stored, bytes, sha256, Root);
        }
    }

    public Task DeletePrefix(string prefix, CancellationToken cancellationToken = default)
    {
        ColdKeys.CheckFolder(prefix);
        var path = Path.Combine(Root, prefix);
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }

        return Task.CompletedTask;
    }

    private string PathOf(string key)
    {
        ColdKeys.Check(key);
        return Path.Combine(Root, key);
    }
}
