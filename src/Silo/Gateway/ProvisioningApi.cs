using System.Text.Json;
using System.Text.Json.Serialization;
using Kbl.NodeGroups;
using Kbl.Provisioning;

namespace Kbl.Silo.Gateway;

/// <summary>
/// <c>GET /v1/cluster/plan</c>: the provisioning grain's desired state, the last observed state, the demand per node
/// group and the recent decisions with their reasons. <c>POST /v1/cluster/plan/observed</c>: a Provisioner reports
/// what it found after reconciling.
/// </summary>
public static class ProvisioningApi
{
    private static readonly JsonSerializerOptions Strict = new(ProvisioningJson.Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    public static void Map(RouteGroupBuilder v1)
    {
        v1.MapGet("/cluster/plan", async (IGrainFactory grains) =>
            Results.Json(await Grain(grains).GetPlan(), ProvisioningJson.Options));
        v1.MapPost("/cluster/plan/observed", async (HttpRequest request, IGrainFactory grains, ColonyGateway gw) =>
        {
            var observed = Parse(await HttpApi.ReadBody(request, 1024 * 1024, gw));
            var desired = (await Grain(grains).GetPlan()).Desired?.Generation ?? 0;
            if (observed.Generation > desired)
            {
                throw new ApiException(ApiError.BadRequest, $"generation {observed.Generation} is ahead of the plan's newest ({desired})");
            }

            await Grain(grains).ReportObserved(observed);
            return Results.NoContent();
        });
    }

    public static ObservedState Parse(ReadOnlyMemory<byte> body)
    {
        ObservedState? observed;
        try
        {
            observed = JsonSerializer.Deserialize<ObservedState>(body.Span, Strict);
        }
        catch (JsonException e)
        {
            throw new ApiException(ApiError.BadRequest, $"the observed state is not valid: {e.Message}");
        }

        var problem = observed switch
        {
            null => "the observed state must be a JSON object",
            { Generation: < 0 } => "'generation' must be at least 0",
            { Provider: null or "" } => "'provider' is required",
            { Groups: null } => "'groups' is required (a list, possibly empty)",
            _ when observed.Groups.FirstOrDefault(g => g is null || string.IsNullOrEmpty(g.Name) || g.Desired < 0 || g.Ready < 0 || g.Status is null) is { } bad =>
                $"group '{bad?.Name}' needs a name, a status and desired/ready counts of at least 0",
            _ => null,
        };
        return problem is null ? observed! with { Groups = [.. observed!.Groups!.Select(g => g with { Issues = g.Issues ?? [] })] } : throw new ApiException(ApiError.BadRequest, problem);
    }

    private static IProvisioningGrain Grain(IGrainFactory grains) => grains.GetGrain<IProvisioningGrain>(IProvisioningGrain.Key);
}
