using StackExchange.Redis;

namespace Kbl.Silo.Hosting;

/// <summary>
/// The membership's Redis connection (<c>Kbl:Cluster:Redis</c>, a StackExchange.Redis connection string): AUTH with
/// <c>password=</c> (and <c>user=</c> for an ACL user), TLS with <c>ssl=true</c>, and the authority of a self-managed
/// Redis's certificate from <c>Kbl:Cluster:RedisCaPath</c>. The string holds the password: nothing here logs it, and
/// StackExchange.Redis leaves it out of its own descriptions of the connection.
/// </summary>
public static class RedisConnection
{
    public static ConfigurationOptions Options(KblClusterOptions cluster)
    {
        var options = ConfigurationOptions.Parse(cluster.Redis);
        if (cluster.RedisCaPath.Length > 0)
        {
            options.TrustIssuer(cluster.RedisCaPath);
        }

        return options;
    }
}
