using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Kbl.Storage;

/// <summary>Registers <see cref="SqliteGrainStorage"/> as a named Orleans grain storage provider.</summary>
public static class SqliteGrainStorageExtensions
{
    /// <summary>Registers the SQLite grain storage as the provider named <see cref="KblStorage.Name"/> ("kbl").</summary>
    public static IServiceCollection AddSqliteGrainStorage(
        this IServiceCollection services,
        Action<SqliteGrainStorageOptions> configure) =>
        services.AddSqliteGrainStorage(KblStorage.Name, configure);

    /// <summary>
    /// Registers the SQLite grain storage as the provider named <paramref name="name"/>, with options
    /// named the same (validated when the host starts).
    /// </summary>
    /// <remarks>
    /// State is serialized by the <see cref="IGrainStorageSerializer"/> registered as a keyed service
    /// under <paramref name="name"/> (the key Orleans's own providers look up first). Unless the host
    /// registered one, this adds the Orleans binary serializer: the silo-wide default is the
    /// Newtonsoft-based <see cref="JsonGrainStorageSerializer"/>, which ignores the
    /// <c>[GenerateSerializer]</c>/<c>[Id]</c> contracts that KBL's state types declare.
    /// </remarks>
    public static IServiceCollection AddSqliteGrainStorage(
        this IServiceCollection services,
        string name,
        Action<SqliteGrainStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);

        services.AddOptions<SqliteGrainStorageOptions>(name)
            .Configure(configure)
            .Validate(
                options => !string.IsNullOrWhiteSpace(options.Path) && !Directory.Exists(options.Path),
                "Kbl:Storage:Sqlite:Path must name a database file (it is empty or names a directory).")
            .ValidateOnStart();

        services.TryAddKeyedSingleton<IGrainStorageSerializer>(
            name,
            (sp, _) => new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>()));

        services.AddGrainStorage(name, (sp, providerName) => new SqliteGrainStorage(
            providerName,
            sp.GetRequiredService<IOptionsMonitor<SqliteGrainStorageOptions>>().Get(providerName),
            sp.GetRequiredKeyedService<IGrainStorageSerializer>(providerName),
            sp.GetRequiredService<IActivatorProvider>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILogger<SqliteGrainStorage>>()));

        return services;
    }
}
