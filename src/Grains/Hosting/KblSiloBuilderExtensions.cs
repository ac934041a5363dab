using Kbl.Placement;
using Kbl.Provisioning;
using Kbl.Records;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Kbl.Hosting;

public static class KblSiloBuilderExtensions
{
    /// <summary>
    /// Adds what every Kbl silo runs: the KBL grains with their record store, identity (published as silo
    /// metadata), data-local placement within node groups, load sharing, draining and rebalancing.
    /// Grain storage named <c>kbl</c> is registered separately. The options are registered as given: the host has
    /// bound and checked them (with <see cref="KblOptionsValidator"/>, <see cref="KblPlacementOptionsValidator"/> and
    /// <see cref="ColdTierOptionsValidator"/>). Without cold-tier options, hibernated shards go to
    /// <c>{DataPath}/cold-tier</c>: a silo alone on its machine.
    /// </summary>
    public static ISiloBuilder AddKblGrains(this ISiloBuilder silo, KblOptions options, KblPlacementOptions? placement = null, ColdTierOptions? coldTier = null)
    {
        placement ??= new KblPlacementOptions();
        coldTier ??= new ColdTierOptions { Path = Path.Combine(options.DataPath, "cold-tier") };
        var identity = new SiloIdentity(options.SiloName, options.NodeGroup, options.Zone);
        silo.UseSiloMetadata(identity.ToMetadata());
        silo.AddPlacementDirector<KblPlacement, KblPlacementDirector>();
        silo.AddPlacementDirector<SiloPinnedPlacement, SiloPinnedPlacementDirector>();
        var services = silo.Services;
        services.AddSingleton(Options.Create(options));
        services.AddSingleton(Options.Create(placement));
        services.AddSingleton(identity);
        services.AddSingleton<RecordStore>();
        services.AddSingleton<SiloDirectory>();
        services.AddSingleton<LocalKbls>();
        services.AddMetrics();
        services.AddSingleton<Telemetry.KblMetrics>();
        AddParticipant<ClusterLoad>(services);
        AddParticipant<KblDrainer>(services);
        AddParticipant<KblRebalancer>(services);
        AddParticipant<KblResumer>(services);
        AddParticipant<StrayCopySweeper>(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(new Replication.ReplicationTimings());
        services.TryAddSingleton<Replication.ReplicaLeases>();
        services.AddSingleton(sp => new Replication.RebuildThrottle(options.RebuildBytesPerSecond, options.RebuildStreams, sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ColdTier.IColdTier>(_ => coldTier.Mode == ColdTierMode.S3 ? new ColdTier.S3ColdTier(coldTier.S3) : new ColdTier.LocalColdTier(coldTier.Path));

        // The provisioning grain takes colonies' demand (and drops a deleted colony's): a host that sets no policy
        // (a test cluster) gets the defaults; the silo registers its checked Kbl:Provisioning settings.
        services.TryAddSingleton(Options.Create(new ProvisioningPolicyOptions()));
        return silo;
    }

    private static void AddParticipant<T>(IServiceCollection services)
        where T : class, ILifecycleParticipant<ISiloLifecycle>
    {
        services.AddSingleton<T>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<T>());
    }
}
