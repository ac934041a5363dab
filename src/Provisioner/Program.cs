using Kbl.Configuration;
using Kbl.NodeGroups;
using Kbl.NodeGroups.Queue;
using Kbl.Provisioner;

// The Provisioner: takes desired states from the deployment queue and reconciles the real node groups to the newest
// generation (on AWS: EKS managed node groups and their silo StatefulSets), reporting what it observed to the cluster.
var builder = Host.CreateApplicationBuilder(args);
ProvisioningOptions options;
try
{
    options = SettingsBinder.Bind(builder.Configuration, ProvisioningOptions.Section, new ProvisioningOptionsValidator(ProvisioningRole.Provisioner));
}
catch (KblConfigurationException e)
{
    Console.Error.WriteLine($"kbl-provisioner: bad configuration: {e.Message}");
    return 2;
}

var token = builder.Configuration["Kbl:Auth:Token"] ?? "";
builder.Services.AddSingleton(options);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<ReconcilerProgress>();
builder.Services.AddHttpClient<IClusterPlan, HttpClusterPlan>(http => HttpClusterPlan.Configure(http, options.ClusterUrl, token));
builder.Services.AddSingleton(sp => QueueAndProviderFactory.Queue(options, options.Local.QueuePath is { Length: > 0 } path ? path : Path.Combine("data", "provisioning", "queue"), sp));
builder.Services.AddSingleton(sp => QueueAndProviderFactory.Provider(options, sp));
builder.Services.AddHostedService<Reconciler>();
builder.Services.AddHostedService<HealthEndpoint>();
var host = builder.Build();
if (host.Services.GetRequiredService<IDeploymentQueue>() is SqsDeploymentQueue queue)
{
    try
    {
        await queue.EnsureReachableAsync(TimeSpan.FromSeconds(20), CancellationToken.None);
    }
    catch (KblDependencyException e)
    {
        Console.Error.WriteLine($"kbl-provisioner: missing dependency: {e.Message}");
        return KblDependencyException.ExitCode;
    }
}

Console.WriteLine($"kbl-provisioner: provider {options.Provider.SettingName()}, queue {options.Queue.SettingName()}, cluster {options.ClusterUrl}");
await host.RunAsync();
return 0;
