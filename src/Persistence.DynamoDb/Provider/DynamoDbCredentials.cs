using Amazon.Runtime;
using Amazon.Runtime.CredentialManagement;

namespace Kbl.Persistence.DynamoDb;

/// <summary>Credentials for a DynamoDB-compatible endpoint named by <see cref="DynamoDbGrainStorageOptions.ServiceUrl"/>.</summary>
internal static class DynamoDbCredentials
{
    /// <summary>
    /// The default chain's steps that are configured here (environment, profile, web identity, container),
    /// else dummy keys, which local emulators accept. The chain's instance-metadata step is left out: with
    /// no metadata service it probes a link-local address for up to 35 s before giving up.
    /// </summary>
    public static (AWSCredentials Credentials, string Source) ForServiceUrl()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_ACCESS_KEY_ID")))
        {
            return (new EnvironmentVariablesAWSCredentials(), "environment variables");
        }

        var profile = Environment.GetEnvironmentVariable("AWS_PROFILE") ?? "default";
        if (new CredentialProfileStoreChain().TryGetAWSCredentials(profile, out var fromProfile))
        {
            return (fromProfile, $"profile {profile}");
        }

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_WEB_IDENTITY_TOKEN_FILE")))
        {
            return (AssumeRoleWithWebIdentityCredentials.FromEnvironmentVariables(), "web identity");
        }

        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
            || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")))
        {
            return (new GenericContainerCredentials(), "container credentials");
        }

        return (new BasicAWSCredentials("kbl-local", "kbl-local"), "dummy keys (none configured)");
    }
}
