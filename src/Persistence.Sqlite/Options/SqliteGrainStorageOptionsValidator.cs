using Microsoft.Extensions.Options;

namespace Kbl.Persistence.Sqlite;

/// <summary>Checks <see cref="SqliteGrainStorageOptions"/>: the path must name a database file.</summary>
public sealed class SqliteGrainStorageOptionsValidator : IValidateOptions<SqliteGrainStorageOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SqliteGrainStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return string.IsNullOrWhiteSpace(options.Path) || Directory.Exists(options.Path)
            ? ValidateOptionsResult.Fail("Kbl:Storage:Sqlite:Path must name a database file (it is empty or names a directory).")
            : ValidateOptionsResult.Success;
    }
}
