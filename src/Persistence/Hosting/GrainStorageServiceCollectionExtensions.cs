using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Kbl.Persistence;

/// <summary>The one registration every Kbl grain storage provider goes through.</summary>
public static class GrainStorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers <typeparamref name="TStorage"/> as the Orleans grain storage provider named <paramref name="name"/>,
    /// with options of type <typeparamref name="TOptions"/> named the same and validated when the host starts.
    /// </summary>
    /// <returns>The options' builder, for the provider's own checks.</returns>
    /// <remarks>
    /// <para>The provider is built with <see cref="ActivatorUtilities"/> from its name, its named options, the
    /// serializer below and the <see cref="TimeProvider"/> (the registered one, else the system clock); its other
    /// constructor parameters (<see cref="IActivatorProvider"/>, its logger) come from the container.</para>
    /// <para>State is serialized by the <see cref="IGrainStorageSerializer"/> registered as a keyed service under
    /// <paramref name="name"/> (the key Orleans' own providers look up first). Unless the host registered one, this
    /// adds the Orleans binary serializer: the silo-wide default is the Newtonsoft-based
    /// <see cref="JsonGrainStorageSerializer"/>, which ignores the <c>[GenerateSerializer]</c>/<c>[Id]</c>
    /// contracts that Kbl's state types declare.</para>
    /// </remarks>
    public static OptionsBuilder<TOptions> AddGrainStorageProvider<TStorage, TOptions>(
        this IServiceCollection services,
        string name,
        Action<TOptions> configure)
        where TStorage : GrainStorageProvider
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);

        var options = services.AddOptions<TOptions>(name)
            .Configure(configure)
            .ValidateOnStart();

        services.TryAddKeyedSingleton<IGrainStorageSerializer>(
            name,
            (sp, _) => new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>()));

        services.AddGrainStorage(name, (sp, providerName) => ActivatorUtilities.CreateInstance<TStorage>(
            sp,
            providerName,
            sp.GetRequiredService<IOptionsMonitor<TOptions>>().Get(providerName),
            sp.GetRequiredKeyedService<IGrainStorageSerializer>(providerName),
            sp.GetService<TimeProvider>() ?? TimeProvider.System));

        return options;
    }
}
