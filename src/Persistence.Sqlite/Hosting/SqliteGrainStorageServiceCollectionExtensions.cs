using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Kbl.Persistence.Sqlite;

/// <summary>Registers <see cref="SqliteGrainStorage"/> as a named Orleans grain storage provider.</summary>
public static class SqliteGrainStorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the SQLite grain storage as the provider named <paramref name="name"/>, with options named the
    /// same (checked by <see cref="SqliteGrainStorageOptionsValidator"/> when the host starts) and the Orleans binary
    /// serializer unless the host registered one
    /// (see <see cref="GrainStorageServiceCollectionExtensions.AddGrainStorageProvider{TStorage, TOptions}"/>).
    /// </summary>
    public static IServiceCollection AddSqliteGrainStorage(
        this IServiceCollection services,
        string name,
        Action<SqliteGrainStorageOptions> configure)
    {
        services.AddGrainStorageProvider<SqliteGrainStorage, SqliteGrainStorageOptions>(name, configure);
        services.TryAddEnumerable(
            ServiceDescriptor.Singleton<IValidateOptions<SqliteGrainStorageOptions>, SqliteGrainStorageOptionsValidator>());
        return services;
    }
}
