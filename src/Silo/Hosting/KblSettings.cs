using Kbl.Hosting;
using Kbl.Silo.Gateway;
using Kbl.Storage;

namespace Kbl.Silo.Hosting;

/// <summary>Every setting the silo reads, bound and checked up front so a mistake stops it with one line.</summary>
public sealed record KblSettings(
    KblOptions Kbl,
    KblPlacementOptions Placement,
    KblClusterOptions Cluster,
    KblGatewayOptions Gateway,
    SqliteGrainStorageOptions Sqlite,
    IReadOnlyList<Uri> Urls)
{
    public static KblSettings Load(IConfiguration configuration)
    {
        RejectUnknown(configuration.GetSection(KblOptions.Section), [.. typeof(KblOptions).GetProperties().Select(p => p.Name), "Cluster", "Gateway", "Storage", "Placement"]);
        RejectUnknown(configuration.GetSection("Kbl:Storage"), ["Sqlite"]);
        var kbl = Bind<KblOptions>(configuration, KblOptions.Section, errorOnUnknown: false);
        var placement = Bind<KblPlacementOptions>(configuration, KblPlacementOptions.Section);
        var cluster = Bind<KblClusterOptions>(configuration, KblClusterOptions.Section);
        var gateway = Bind<KblGatewayOptions>(configuration, KblGatewayOptions.Section);
        var sqlite = Bind<SqliteGrainStorageOptions>(configuration, "Kbl:Storage:Sqlite");
        if (string.IsNullOrEmpty(kbl.SiloName))
        {
            kbl.SiloName = Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } pod ? pod : $"silo-{cluster.SiloPort}";
        }

        var result = new KblOptionsValidator().Validate(null, kbl);
        if (result.Failed)
        {
            throw new KblConfigurationException(result.FailureMessage);
        }

        if (new KblPlacementOptionsValidator().Validate(null, placement) is { Failed: true } badPlacement)
        {
            throw new KblConfigurationException(badPlacement.FailureMessage);
        }

        Port(cluster.SiloPort, "Kbl:Cluster:SiloPort");
        Port(cluster.GatewayPort, "Kbl:Cluster:GatewayPort");
        if (cluster.PrimarySiloPort != 0)
        {
            Port(cluster.PrimarySiloPort, "Kbl:Cluster:PrimarySiloPort");
        }

        Port(gateway.GrpcPort, "Kbl:Gateway:GrpcPort");
        if (gateway.MaxValueBytes is < 1 or > 64 * 1024 * 1024)
        {
            throw new KblConfigurationException($"Kbl:Gateway:MaxValueBytes {gateway.MaxValueBytes} must be between 1 and 67108864");
        }

        if (gateway.MaxScanPage is < 1 or > 100_000)
        {
            throw new KblConfigurationException($"Kbl:Gateway:MaxScanPage {gateway.MaxScanPage} must be between 1 and 100000");
        }

        if (string.IsNullOrWhiteSpace(sqlite.Path))
        {
            throw new KblConfigurationException("Kbl:Storage:Sqlite:Path must name a file");
        }

        var urls = new List<Uri>();
        foreach (var url in (configuration["urls"] ?? "http://127.0.0.1:5000").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri) ||
                uri.Scheme != Uri.UriSchemeHttp || uri.Port is < 1 or > 65535)
            {
                throw new KblConfigurationException($"--urls '{url}' must be http://HOST:PORT (TLS is terminated in front of Kbl)");
            }

            urls.Add(uri);
        }

        return new KblSettings(kbl, placement, cluster, gateway, sqlite, urls);
    }

    private static void RejectUnknown(IConfigurationSection section, IReadOnlyCollection<string> known)
    {
        if (section.GetChildren().FirstOrDefault(c => !known.Contains(c.Key, StringComparer.OrdinalIgnoreCase)) is { } unknown)
        {
            throw new KblConfigurationException($"unknown setting {unknown.Path}; {section.Path} has {string.Join(", ", known)}");
        }
    }

    private static T Bind<T>(IConfiguration configuration, string section, bool errorOnUnknown = true)
        where T : new()
    {
        var options = new T();
        try
        {
            configuration.GetSection(section).Bind(options, o => o.ErrorOnUnknownConfiguration = errorOnUnknown);
        }
        catch (InvalidOperationException e)
        {
            throw new KblConfigurationException(e.Message.ReplaceLineEndings(" "));
        }

        return options;
    }

    private static void Port(int port, string key)
    {
        if (port is < 1 or > 65535)
        {
            throw new KblConfigurationException($"{key} {port} must be a port between 1 and 65535");
        }
    }
}
