using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace Kbl.Storage;

/// <summary>Registers <see cref="DynamoDbGrainStorage"/> as a named Orleans grain storage provider.</summary>
public static class DynamoDbGrainStorageExtensions
{
    /// <summary>Registers the DynamoDB grain storage as the provider named <see cref="KblStorage.Name"/> ("kbl").</summary>
    public static IServiceCollection AddDynamoDbGrainStorage(
        this IServiceCollection services,
        Action<DynamoDbGrainStorageOptions> configure) =>
        services.AddDynamoDbGrainStorage(KblStorage.Name, configure);

    /// <summary>
    /// Registers the DynamoDB grain storage as the provider named <paramref name="name"/>, with options
    /// named the same (checked by <see cref="DynamoDbGrainStorageOptionsValidator"/> when the host starts).
    /// </summary>
    /// <remarks>
    /// State is serialized by the <see cref="IGrainStorageSerializer"/> registered as a keyed service
    /// under <paramref name="name"/>; unless the host registered one, this adds the Orleans binary
    /// serializer, as <see cref="SqliteGrainStorageExtensions.AddSqliteGrainStorage(IServiceCollection, string, Action{SqliteGrainStorageOptions})"/>
    /// does (KBL's state types declare <c>[GenerateSerializer]</c>/<c>[Id]</c> contracts).
    /// </remarks>
    public static IServiceCollection AddDynamoDbGrainStorage(
        this IServiceCollection services,
        string name,
        Action<DynamoDbGrainStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configure);

        services.AddOptions<DynamoDbGrainStorageOptions>(name)
            .Configure(configure)
            .ValidateOnStart();
        services.TryAddEnumerable(
            ServiceDescriptor.Singleton<IValidateOptions<DynamoDbGrainStorageOptions>, DynamoDbGrainStorageOptionsValidator>());

        services.TryAddKeyedSingleton<IGrainStorageSerializer>(
            name,
            (sp, _) => new OrleansGrainStorageSerializer(sp.GetRequiredService<Serializer>()));

        services.AddGrainStorage(name, (sp, providerName) => new DynamoDbGrainStorage(
            providerName,
            sp.GetRequiredService<IOptionsMonitor<DynamoDbGrainStorageOptions>>().Get(providerName),
            sp.GetRequiredKeyedService<IGrainStorageSerializer>(providerName),
            sp.GetRequiredService<IActivatorProvider>(),
            sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetRequiredService<ILogger<DynamoDbGrainStorage>>()));

        return services;
    }
}
