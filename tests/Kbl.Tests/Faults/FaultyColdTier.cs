using Kbl.ColdTier;
using Kbl.Placement;

namespace Kbl.Tests.Faults;

/// <summary>
/// A test double for the cold tier's failures: the real local cold tier, with <see cref="TreeFaults"/> around each
/// call (methods <c>IColdTier.Upload</c>, <c>IColdTier.Download</c>, <c>IColdTier.DeletePrefix</c>, struck on the
/// caller's side, the key standing for the grains), so a hibernation or a wake can be cut between any two steps.
/// </summary>
public sealed class FaultyColdTier(IColdTier real, TreeFaults faults, SiloIdentity silo, ILocalSiloDetails local) : IColdTier
{
    public async Task<ColdObject> Upload(string key, string file, CancellationToken cancellationToken = default)
    {
        ColdObject? stored = null;
        await Strike(nameof(Upload), key, async () => stored = await real.Upload(key, file, cancellationToken));
        return stored!;
    }

    public Task Download(ColdObject stored, string file, CancellationToken cancellationToken = default) =>
        Strike(nameof(Download), stored.Key, () => real.Download(stored, file, cancellationToken));

    public Task DeletePrefix(string prefix, CancellationToken cancellationToken = default) =>
        Strike(nameof(DeletePrefix), prefix, () => real.DeletePrefix(prefix, cancellationToken));

    private Task Strike(string method, string key, Func<Task> invoke) =>
        faults.Around($"{nameof(IColdTier)}.{method}", FaultSide.Caller, silo.Name, local.SiloAddress, key, invoke);
}
