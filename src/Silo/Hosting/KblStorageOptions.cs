namespace Kbl.Silo.Hosting;

/// <summary>Section <c>Kbl:Storage</c>: where Kbl's metadata (grain state) lives.</summary>
public sealed class KblStorageOptions
{
    public const string Section = "Kbl:Storage";

    /// <summary><c>sqlite</c> (the default: one file shared by the silos of one machine) or <c>dynamodb</c>.</summary>
    public StorageMode Mode { get; set; } = StorageMode.Sqlite;
}
