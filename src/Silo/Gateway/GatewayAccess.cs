using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Authorization;

namespace Kbl.Silo.Gateway;

/// <summary>How far a request's need reaches.</summary>
public enum AccessScope
{
    /// <summary>Open to anyone (<c>/healthz</c>, <c>/readyz</c>, <c>/metrics</c>).</summary>
    Open,

    /// <summary>Any caller with valid credentials (<c>/ui</c>, requests that match no route).</summary>
    AnyCaller,

    /// <summary>A right on the colony the route names.</summary>
    Colony,

    /// <summary>A right on the colony a gRPC request names inside its message (checked by <see cref="ColonyGrantInterceptor"/>).</summary>
    ColonyInMessage,

    /// <summary>A right on every colony (listing them).</summary>
    EveryColony,

    /// <summary>The cluster: admin.</summary>
    Cluster,
}

/// <summary>What a request needs: its scope, the right, and the colony when the route names one.</summary>
public readonly record struct AccessNeed(AccessScope Scope, GatewayRight Right = GatewayRight.Read, string? Colony = null);

/// <summary>
/// The rules of the door: what each request needs, decided from the endpoint routing matched (its metadata, its route
/// pattern and values, the method), never from what the client says about itself. Reads of a colony (GET, and the
/// aggregate and batch-read POSTs) need read; anything else on a colony route needs write; <c>/v1/cluster/*</c> and the dashboard
/// need admin; a <c>/v1</c> route the rules do not know needs admin too, so a new route is closed until placed.
/// </summary>
public static class GatewayAccess
{
    public static AccessNeed Need(HttpContext http)
    {
        var endpoint = http.GetEndpoint();
        if (endpoint is null)
        {
            return new(AccessScope.AnyCaller);
        }

        if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
        {
            return new(AccessScope.Open);
        }

        if (endpoint.Metadata.GetMetadata<GrpcMethodMetadata>() is { } grpc)
        {
            return ForGrpc(grpc.Method.Name);
        }

        if (endpoint.Metadata.GetMetadata<ClusterAdmin>() is not null)
        {
            return new(AccessScope.Cluster, GatewayRight.Admin);
        }

        var pattern = (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? "";
        if (!pattern.StartsWith("/v1/", StringComparison.Ordinal))
        {
            return new(AccessScope.AnyCaller);
        }

        var method = http.Request.Method;
        if (pattern.StartsWith("/v1/cluster", StringComparison.Ordinal))
        {
            return new(AccessScope.Cluster, GatewayRight.Admin);
        }

        if (http.GetRouteValue("colony") is string colony)
        {
            var reads = HttpMethods.IsGet(method) || HttpMethods.IsHead(method) ||
                (HttpMethods.IsPost(method) && (pattern.EndsWith("/aggregate", StringComparison.Ordinal) || pattern.EndsWith("/batch/read", StringComparison.Ordinal)));
            return new(AccessScope.Colony, reads ? GatewayRight.Read : GatewayRight.Write, colony);
        }

        if (pattern == "/v1/colonies")
        {
            return new(AccessScope.EveryColony, HttpMethods.IsGet(method) ? GatewayRight.Read : GatewayRight.Write);
        }

        return new(AccessScope.Cluster, GatewayRight.Admin);
    }

    /// <summary>
    /// A gRPC method's need: <c>ListColonies</c> reads every colony; the methods that only look (Get…, List…, Scan,
    /// Aggregate) read the colony their request names; every other method writes it.
    /// </summary>
    public static AccessNeed ForGrpc(string method) => method switch
    {
        "ListColonies" => new(AccessScope.EveryColony, GatewayRight.Read),
        _ when method.StartsWith("Get", StringComparison.Ordinal) || method.StartsWith("List", StringComparison.Ordinal) ||
               method.StartsWith("Scan", StringComparison.Ordinal) || method.StartsWith("Aggregate", StringComparison.Ordinal) =>
            new(AccessScope.ColonyInMessage, GatewayRight.Read),
        _ => new(AccessScope.ColonyInMessage, GatewayRight.Write),
    };
}

/// <summary>Marks endpoints only an admin may use (the dashboard).</summary>
public sealed class ClusterAdmin
{
    public static readonly ClusterAdmin Instance = new();
}
