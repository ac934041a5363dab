using Kbl.Configuration;
using StackExchange.Redis;

namespace Kbl.Silo.Hosting;

/// <summary>Turns a failed start into the one line that names what was missing, when it was a dependency.</summary>
public static class StartupFailure
{
    /// <summary>
    /// The line for a start that failed on a missing dependency (a <see cref="KblDependencyException"/>, or Orleans'
    /// Redis membership that could not connect), or null for any other failure.
    /// </summary>
    public static string? MissingDependency(Exception failure, KblSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (KblDependencyException.Find(failure) is { } missing)
        {
            return missing.Message;
        }

        if (KblDependencyException.Chain(failure).OfType<RedisException>().FirstOrDefault() is { } redis)
        {
            // The endpoints only: the connection string may carry a password.
            var endpoints = string.Join(", ", ConfigurationOptions.Parse(settings.Cluster.Redis).EndPoints.Select(EndPointCollection.ToString));
            var why = redis is RedisConnectionException connection ? connection.FailureType.ToString() : KblDependencyException.FirstLine(redis.Message);
            return $"Redis membership store at {endpoints} (Kbl:Cluster:Redis) is unreachable ({why})";
        }

        return null;
    }
}
