using System.Net.Http.Headers;
using System.Text;
using Kbl.NodeGroups;
using Kbl.Provisioning;

namespace Kbl.Provisioner;

/// <summary>The Provisioner reaches the cluster through the gateway: <c>GET /v1/cluster/plan</c>, <c>POST /v1/cluster/plan/observed</c>.</summary>
public sealed class HttpClusterPlan(HttpClient http) : IClusterPlan
{
    public static void Configure(HttpClient http, string clusterUrl, string token)
    {
        http.BaseAddress = new Uri(clusterUrl.TrimEnd('/') + "/");
        http.Timeout = TimeSpan.FromSeconds(30);
        if (token.Length > 0)
        {
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
    }

    public async Task<DesiredState?> Current(CancellationToken cancellationToken)
    {
        var json = await http.GetStringAsync("v1/cluster/plan", cancellationToken);
        return ProvisioningJson.Deserialize<ProvisioningPlan>(json).Desired;
    }

    public async Task Report(ObservedState observed, CancellationToken cancellationToken)
    {
        using var body = new StringContent(ProvisioningJson.Serialize(observed), Encoding.UTF8, "application/json");
        using var response = await http.PostAsync("v1/cluster/plan/observed", body, cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"the cluster refused the observed state: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        }
    }
}
