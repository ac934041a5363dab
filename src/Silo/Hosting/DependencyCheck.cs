using Kbl.Configuration;
using Kbl.NodeGroups.Queue;
using Kbl.Persistence;
using Kbl.Storage;
using Orleans.Storage;
using StackExchange.Redis;

namespace Kbl.Silo.Hosting;

/// <summary>
/// What the silo needs from outside, checked before anything starts (so a missing one logs nothing): the grain
/// storage (a DynamoDB table that does not exist, a SQLite file that cannot be opened), the Redis membership store,
/// and, when the silo publishes desired states to SQS, the queue. A failure is a <see cref="KblDependencyException"/>
/// naming the dependency, which <c>Program</c> turns into one line on stderr and exit code 3.
/// </summary>
public static class DependencyCheck
{
    /// <summary>How long the grain storage and the SQS queue have to answer.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>How long the Redis membership store has to accept a connection (a refused one waits this long too).</summary>
    public static readonly TimeSpan RedisTimeout = TimeSpan.FromSeconds(5);

    public static async Task RunAsync(IServiceProvider services, KblSettings settings, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(settings);
        if (services.GetKeyedService<IGrainStorage>(KblStorage.Name) is GrainStorageProvider storage)
        {
            try
            {
                await storage.EnsureInitializedAsync().WaitAsync(Timeout, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                throw new KblDependencyException($"grain storage unavailable: {KblDependencyException.FirstLine(e.Message)}", e);
            }
        }

        if (settings.Cluster.Mode == ClusterMode.Redis)
        {
            await ReachRedis(settings.Cluster);
        }

        if (services.GetService<IDeploymentQueue>() is SqsDeploymentQueue queue)
        {
            await queue.EnsureReachableAsync(Timeout, cancellationToken);
        }
    }

    /// <summary>The line for Orleans' Redis membership failing on <paramref name="failure"/>: the endpoints only, as the connection string may carry a password.</summary>
    public static string RedisUnreachable(KblClusterOptions cluster, RedisException failure)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(failure);
        var endpoints = string.Join(", ", ConfigurationOptions.Parse(cluster.Redis).EndPoints.Select(EndPointCollection.ToString));
        var why = failure is RedisConnectionException connection ? connection.FailureType.ToString() : KblDependencyException.FirstLine(failure.Message);
        return $"Redis membership store at {endpoints} (Kbl:Cluster:Redis) is unreachable ({why})";
    }

    /// <summary>Connects to the membership store as Orleans will (same options: AUTH, TLS, CA) and pings it.</summary>
    private static async Task ReachRedis(KblClusterOptions cluster)
    {
        var options = RedisConnection.Options(cluster);
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = (int)RedisTimeout.TotalMilliseconds;
        try
        {
            await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
            await connection.GetDatabase().PingAsync();
        }
        catch (RedisException e)
        {
            throw new KblDependencyException(RedisUnreachable(cluster, e), e);
        }
    }
}
