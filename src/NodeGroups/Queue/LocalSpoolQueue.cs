namespace Kbl.NodeGroups.Queue;

/// <summary>
/// The deployment queue on one machine: a spool directory shared by the silos and the Provisioner. A message is
/// one file, written under a temporary name, flushed to disk and renamed into place, so a reader never sees half a
/// message and a machine crash after <see cref="Send"/> returned loses none. Receiving does not take a file away:
/// it stays until it is deleted, so a Provisioner that dies mid-reconcile sees it again.
/// </summary>
public sealed class LocalSpoolQueue : IDeploymentQueue
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);
    private readonly string _directory;
    private readonly HashSet<string> _delivered = [];

    public LocalSpoolQueue(string directory)
    {
        _directory = Path.GetFullPath(directory);
        Directory.CreateDirectory(_directory);
    }

    public string DirectoryPath => _directory;

    public async Task Send(DesiredState desired, CancellationToken cancellationToken)
    {
        var name = $"{desired.Generation:D19}-{Guid.NewGuid():N}";
        var temporary = Path.Combine(_directory, name + ".tmp");
        await using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
        {
            await file.WriteAsync(System.Text.Encoding.UTF8.GetBytes(ProvisioningJson.Serialize(desired)), cancellationToken);
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, Path.Combine(_directory, name + ".json"));
    }

    /// <summary>Messages not handed out before by this instance (a new instance, after a restart, sees every file again).</summary>
    public async Task<IReadOnlyList<QueuedState>> Receive(TimeSpan wait, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            var messages = new List<QueuedState>();
            foreach (var path in Directory.EnumerateFiles(_directory, "*.json").Order(StringComparer.Ordinal))
            {
                if (_delivered.Contains(path))
                {
                    continue;
                }

                try
                {
                    messages.Add(new QueuedState(ProvisioningJson.Deserialize<DesiredState>(await File.ReadAllTextAsync(path, cancellationToken)), path));
                    _delivered.Add(path);
                }
                catch (FileNotFoundException)
                {
                    // deleted meanwhile by another reader
                }
                catch (System.Text.Json.JsonException)
                {
                    File.Move(path, path + ".bad", overwrite: true);
                }
            }

            if (messages.Count > 0 || DateTime.UtcNow >= deadline)
            {
                return messages;
            }

            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    public Task Delete(QueuedState message, CancellationToken cancellationToken)
    {
        File.Delete(message.Receipt);
        _delivered.Remove(message.Receipt);
        return Task.CompletedTask;
    }
}
