using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Kbl.Persistence.DynamoDb;

/// <summary>Registers <see cref="DynamoDbGrainStorage"/> as a named Orleans grain storage provider.</summary>
public static class DynamoDbGrainStorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the DynamoDB grain storage as the provider named <paramref name="name"/>, with options named the
    /// same (checked by <see cref="DynamoDbGrainStorageOptionsValidator"/> when the host starts) and the Orleans
    /// binary serializer unless the host registered one
    /// (see <see cref="GrainStorageServiceCollectionExtensions.AddGrainStorageProvider{TStorage, TOptions}"/>).
    /// </summary>
    public static IServiceCollection AddDynamoDbGrainStorage(
        this IServiceCollection services,
        string name,
        Action<DynamoDbGrainStorageOptions> configure)
    {
        services.AddGrainStorageProvider<DynamoDbGrainStorage, DynamoDbGrainStorageOptions>(name, configure);
        services.TryAddEnumerable(
            ServiceDescriptor.Singleton<IValidateOptions<DynamoDbGrainStorageOptions>, DynamoDbGrainStorageOptionsValidator>());
        return services;
    }
}
