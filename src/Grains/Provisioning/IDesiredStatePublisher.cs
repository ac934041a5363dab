namespace Kbl.Provisioning;

/// <summary>Sends desired states to the deployment queue; the silo registers the one its configuration names.</summary>
public interface IDesiredStatePublisher
{
    /// <summary>The provider that will act on what is published (<c>local</c>, <c>eks</c>, <c>dry-run</c>), or <c>off</c>.</summary>
    string Provider { get; }

    Task Publish(DesiredState desired, CancellationToken cancellationToken);
}

/// <summary><c>Kbl:Provisioning:Provider=off</c>: the policy still plans (see <c>/v1/cluster/plan</c>), nothing is sent.</summary>
public sealed class NoPublisher : IDesiredStatePublisher
{
    public string Provider => "off";

    public Task Publish(DesiredState desired, CancellationToken cancellationToken) => Task.CompletedTask;
}
