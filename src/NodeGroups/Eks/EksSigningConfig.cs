using Amazon.Runtime;
using Amazon.Runtime.Endpoints;
using Amazon.Runtime.Internal;

namespace Kbl.NodeGroups.Eks;

/// <summary>
/// The client configuration <see cref="Amazon.Runtime.Internal.Auth.AWS4Signer"/> and the SDK's credential chain read:
/// signing name, region, and the standard defaults. AWSSDK.EKS is not served here, so EKS has no config class of its own.
/// </summary>
internal sealed class EksSigningConfig : ClientConfig
{
    public EksSigningConfig()
        : base(new DefaultConfigurationProvider([new DefaultConfiguration { Name = DefaultConfigurationMode.Standard, RetryMode = RequestRetryMode.Standard }]))
    {
    }

    public override string ServiceVersion => "2017-11-01";

    public override string UserAgent => "kbl-eks";

    public override string RegionEndpointServiceName => EksSigner.ServiceName;

    public override Endpoint DetermineServiceOperationEndpoint(ServiceOperationEndpointParameters parameters) =>
        throw new NotSupportedException("Kbl's EKS client builds its own URLs (EksRequests)");
}
