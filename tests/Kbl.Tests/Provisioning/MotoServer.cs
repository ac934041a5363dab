using Kbl.Tests.Storage;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// moto's AWS server on a free loopback port (every service on one port: EKS, EC2, SQS…). It is the server the
/// DynamoDB tests' <see cref="MotoFixture"/> starts (one request at a time), reused as it is.
/// </summary>
public sealed class MotoServer : IAsyncLifetime
{
    private readonly MotoFixture _moto = new();

    public string ServiceUrl => _moto.ServiceUrl;

    /// <summary>What moto printed so far (for failure messages).</summary>
    public string Output => _moto.Output;

    public Task InitializeAsync() => _moto.InitializeAsync();

    public Task DisposeAsync() => _moto.DisposeAsync();
}
