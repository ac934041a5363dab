using Kbl.Colonies;
using Kbl.Grains;
using Kbl.Placement;
using Kbl.Records;
using Kbl.Replication;
using Kbl.Silo.Routing;
using Kbl.Tree;

namespace Kbl.Silo.Gateway;

/// <summary>Cluster-wide views and operations: the silos, locality, moving a subtree to another node group, a leaf's copies.</summary>
public sealed class ClusterGateway(IGrainFactory grains, IClusterMembershipService membership, SiloDirectory directory, ColonyRouter router)
{
    public async Task<IReadOnlyList<object>> Silos()
    {
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).ToList();
        var rows = await Task.WhenAll(active.Select(async member =>
        {
            var identity = directory.Find(member.SiloAddress);
            SiloStats? stats = null;
            string? error = null;
            if (identity is not null)
            {
                try
                {
                    stats = await grains.GetGrain<ISiloAgentGrain>(identity.Name).GetStats().WaitAsync(TimeSpan.FromSeconds(5));
                }
                catch (Exception e) when (e is TimeoutException or OrleansException)
                {
                    error = e.Message;
                }
            }

            return new
            {
                silo = identity?.Name,
                address = member.SiloAddress.ToString(),
                nodeGroup = identity?.NodeGroup,
                zone = identity?.Zone,
                status = member.Status.ToString().ToLowerInvariant(),
                kblActivations = stats?.KblActivations,
                leaves = stats?.Leaves,
                records = stats?.Records,
                bytes = stats?.Bytes,
                error,
            };
        }));
        return [.. rows.OrderBy(r => r.silo, StringComparer.Ordinal)];
    }

    /// <summary>
    /// How data-local the cluster is: the share of leaf activations on a silo of their own node group, and the
    /// grain calls this gateway's requests took (a warm route cache makes it one: gateway to leaf, whose records
    /// are on its own silo's disk, so no further hop fetches data).
    /// </summary>
    public async Task<object> Locality()
    {
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).ToList();
        var stats = await Task.WhenAll(active
            .Select(m => directory.Find(m.SiloAddress))
            .Where(i => i is not null)
            .Select(i => grains.GetGrain<ISiloAgentGrain>(i!.Name).GetStats()));
        var leaves = stats.Sum(s => s.Leaves);
        var inGroup = stats.Sum(s => s.LeavesInGroup);
        var (requests, calls) = router.Hops;
        return new
        {
            leafActivations = leaves,
            leafActivationsInGroup = inGroup,
            localityShare = leaves == 0 ? 1.0 : inGroup / (double)leaves,
            gatewayRequests = requests,
            gatewayGrainCalls = calls,
            grainCallsPerRequest = requests == 0 ? 0 : calls / (double)requests,
            dataHopsPerRead = 0,
        };
    }

    public async Task<MoveResult> Move(string colony, string path, string nodeGroup)
    {
        CheckKbl(colony, path);
        if (!GenomeJson.IsValidNodeGroup(nodeGroup))
        {
            throw new ApiException(ApiError.BadRequest, $"node group '{nodeGroup}' must be 1 to 63 characters a-z, 0-9 and '-'");
        }

        var result = await grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, path)).Move(nodeGroup);
        return result switch
        {
            { Found: false } => throw new ApiException(ApiError.NotFound, $"colony '{colony}' has no KBL '{path}'"),
            { Error: { } error } => throw new ApiException(ApiError.Unavailable, error),
            _ => result,
        };
    }

    /// <summary>Hibernates every leaf of a subtree now (an operator preparing for a lull).</summary>
    public Task<WindowResult> Hibernate(string colony, string path) =>
        Window(colony, path, kbl => kbl.Hibernate(), "hibernate");

    /// <summary>Wakes every hibernated leaf of a subtree now (an operator preparing for a peak).</summary>
    public Task<WindowResult> Wake(string colony, string path) =>
        Window(colony, path, kbl => kbl.Wake(), "wake");

    private async Task<WindowResult> Window(string colony, string path, Func<IKblPlacementGrain, Task<WindowResult>> change, string what)
    {
        CheckKbl(colony, path);
        var result = await change(grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, path)));
        return result switch
        {
            { Found: false } => throw new ApiException(ApiError.NotFound, $"colony '{colony}' has no KBL '{path}' to {what}"),
            { Error: { } error } => throw new ApiException(ApiError.Unavailable, $"{result.Changed} leaves done, not all: {error}"),
            _ => result,
        };
    }

    /// <summary>Every copy of a leaf's shard with its digest (in-sync copies hold byte-identical records).</summary>
    public async Task<IReadOnlyList<ShardCopy>> Copies(string colony, string path)
    {
        CheckKbl(colony, path);
        var copies = await grains.GetGrain<IKblPlacementGrain>(ColonyNames.KblId(colony, path)).Copies();
        return copies.Status switch
        {
            KblStatus.Ok => copies.Copies,
            KblStatus.NotFound => throw new ApiException(ApiError.NotFound, $"colony '{colony}' has no leaf '{path}': {copies.Message}"),
            KblStatus.Moved => throw new ApiException(ApiError.Conflict, copies.Message ?? $"KBL '{path}' holds no records"),
            _ => throw new ApiException(ApiError.Unavailable, copies.Message ?? "the leaf is not serving now"),
        };
    }

    private static void CheckKbl(string colony, string path)
    {
        ColonyGateway.CheckColony(colony);
        if (!IsPath(path))
        {
            throw new ApiException(ApiError.BadRequest, $"KBL path '{path}' must look like r, r.0 or r.0.3");
        }
    }

    private static bool IsPath(string path) =>
        path.StartsWith(ColonyNames.RootPath, StringComparison.Ordinal) &&
        path.Split('.').Skip(1).All(p => p.Length is > 0 and < 4 && p.All(char.IsAsciiDigit)) &&
        path.Split('.')[0] == ColonyNames.RootPath;
}
