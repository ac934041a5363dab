using Kbl.Provisioner;
using Kbl.Provisioning;

// The Provisioner: takes desired states from the deployment queue and reconciles the real node groups to the newest
// generation (on AWS: EKS managed node groups and their silo StatefulSets), reporting what it observed to the cluster.
var builder = Host.CreateApplicationBuilder(args);
ProvisioningOptions options;
string token;
try
{
    options = ProvisioningSettings.Load(builder.Configuration, [], reconciles: true);
    token = builder.Configuration["Kbl:Auth:Token"] ?? "";
    if (options.Provider is "local" or "off")
    {
        throw new ProvisioningConfigurationException($"Kbl:Provisioning:Provider '{options.Provider}' is not for the Provisioner process: use eks or dry-run (the local provider runs inside the silo)");
    }

    if (!Uri.TryCreate(options.ClusterUrl, UriKind.Absolute, out var cluster) || cluster.Scheme is not ("http" or "https"))
    {
        throw new ProvisioningConfigurationException($"Kbl:Provisioning:ClusterUrl '{options.ClusterUrl}' must be the Kbl gateway's URL (http://kbl:8080)");
    }
}
catch (ProvisioningConfigurationException e)
{
    Console.Error.WriteLine($"kbl-provisioner: bad configuration: {e.Message}");
    return 2;
}

builder.Services.AddSingleton(options);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<ReconcilerProgress>();
builder.Services.AddHttpClient<IClusterPlan, HttpClusterPlan>(http => HttpClusterPlan.Configure(http, options.ClusterUrl, token));
builder.Services.AddSingleton(sp => ProvisionerServices.Queue(options, options.Local.QueuePath is { Length: > 0 } path ? path : Path.Combine("data", "provisioning", "queue"), sp));
builder.Services.AddSingleton(sp => ProvisionerServices.Provider(options, sp));
builder.Services.AddHostedService<Reconciler>();
builder.Services.AddHostedService<HealthEndpoint>();
var host = builder.Build();
Console.WriteLine($"kbl-provisioner: provider {options.Provider}, queue {options.Queue}, cluster {options.ClusterUrl}");
await host.RunAsync();
return 0;
