using Microsoft.Extensions.DependencyInjection;

namespace Kbl.Persistence.Sqlite;

/// <summary>Registers <see cref="SqliteGrainStorage"/> as a named Orleans grain storage provider.</summary>
public static class SqliteGrainStorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the SQLite grain storage as the provider named <paramref name="name"/>, with options named the
    /// same (validated when the host starts) and the Orleans binary serializer unless the host registered one
    /// (see <see cref="GrainStorageServiceCollectionExtensions.AddGrainStorageProvider{TStorage, TOptions}"/>).
    /// </summary>
    public static IServiceCollection AddSqliteGrainStorage(
        this IServiceCollection services,
        string name,
        Action<SqliteGrainStorageOptions> configure)
    {
        services.AddGrainStorageProvider<SqliteGrainStorage, SqliteGrainStorageOptions>(name, configure)
            .Validate(
                options => !string.IsNullOrWhiteSpace(options.Path) && !Directory.Exists(options.Path),
                "Kbl:Storage:Sqlite:Path must name a database file (it is empty or names a directory).");
        return services;
    }
}
