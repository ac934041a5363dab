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
    /// metadata) and data-local placement. Grain storage named <c>kbl</c> is registered separately.
    /// </summary>
    public static ISiloBuilder AddKblGrains(this ISiloBuilder silo, KblOptions options)
    {
        var identity = new SiloIdentity(options.SiloName, options.NodeGroup, options.Zone);
        silo.UseSiloMetadata(identity.ToMetadata());
        silo.AddPlacementDirector<KblPlacement, KblPlacementDirector>();
        var services = silo.Services;
        services.AddSingleton<IValidateOptions<KblOptions>, KblOptionsValidator>();
        services.AddOptions<KblOptions>().Configure(o =>
        {
            o.DataPath = options.DataPath;
            o.SiloName = options.SiloName;
            o.NodeGroup = options.NodeGroup;
            o.Zone = options.Zone;
            o.FeedbackPeriod = options.FeedbackPeriod;
            o.SyncWrites = options.SyncWrites;
        }).ValidateOnStart();
        services.AddSingleton(identity);
        services.AddSingleton<RecordStore>();
        services.AddSingleton<SiloDirectory>();
        services.TryAddSingleton(TimeProvider.System);
        return silo;
    }
}
