using Kbl.Placement;
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
    /// Grain storage named <c>kbl</c> is registered separately.
    /// </summary>
    public static ISiloBuilder AddKblGrains(this ISiloBuilder silo, KblOptions options, KblPlacementOptions? placement = null)
    {
        placement ??= new KblPlacementOptions();
        var identity = new SiloIdentity(options.SiloName, options.NodeGroup, options.Zone);
        silo.UseSiloMetadata(identity.ToMetadata());
        silo.AddPlacementDirector<KblPlacement, KblPlacementDirector>();
        silo.AddPlacementDirector<SiloPinnedPlacement, SiloPinnedPlacementDirector>();
        var services = silo.Services;
        services.AddSingleton<IValidateOptions<KblOptions>, KblOptionsValidator>();
        services.AddSingleton<IValidateOptions<KblPlacementOptions>, KblPlacementOptionsValidator>();
        services.AddOptions<KblOptions>().Configure(o => Copy(options, o)).ValidateOnStart();
        services.AddOptions<KblPlacementOptions>().Configure(o => Copy(placement, o)).ValidateOnStart();
        services.AddSingleton(identity);
        services.AddSingleton<RecordStore>();
        services.AddSingleton<SiloDirectory>();
        services.AddSingleton<LocalKbls>();
        services.AddMetrics();
        services.AddSingleton<Telemetry.KblMetrics>();
        AddParticipant<ClusterLoad>(services);
        AddParticipant<KblDrainer>(services);
        AddParticipant<KblRebalancer>(services);
        services.TryAddSingleton(TimeProvider.System);
        return silo;
    }

    private static void AddParticipant<T>(IServiceCollection services)
        where T : class, ILifecycleParticipant<ISiloLifecycle>
    {
        services.AddSingleton<T>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<T>());
    }

    private static void Copy<T>(T from, T to)
    {
        foreach (var property in typeof(T).GetProperties().Where(p => p.CanWrite))
        {
            property.SetValue(to, property.GetValue(from));
        }
    }
}
