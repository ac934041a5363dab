using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Kbl.Persistence.DynamoDb;

/// <summary>
/// Checks <see cref="DynamoDbGrainStorageOptions"/> when the host starts, so a bad setting stops the
/// process with one line naming its configuration key instead of failing at the first grain call.
/// </summary>
public sealed partial class DynamoDbGrainStorageOptionsValidator : IValidateOptions<DynamoDbGrainStorageOptions>
{
    private const string Section = "Kbl:Storage:DynamoDb";

    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DynamoDbGrainStorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();

        if (!string.IsNullOrEmpty(options.ServiceUrl)
            && !(Uri.TryCreate(options.ServiceUrl, UriKind.Absolute, out var url)
                 && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps)
                 && !string.IsNullOrEmpty(url.Host)))
        {
            failures.Add($"{Section}:ServiceUrl must be empty (the AWS endpoint of the region) or an absolute http(s) URL such as http://127.0.0.1:8000 (got '{options.ServiceUrl}').");
        }

        if (options.Region is null || !RegionPattern().IsMatch(options.Region))
        {
            failures.Add($"{Section}:Region must be an AWS region name such as us-east-1 (got '{options.Region}').");
        }

        if (options.TableName is null || !TableNamePattern().IsMatch(options.TableName))
        {
            failures.Add($"{Section}:TableName must be 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.' (got '{options.TableName}').");
        }

        if (options.InlinePayloadBytes is < 0 or > DynamoDbGrainStorageOptions.MaxItemPayloadBytes
            || options.ChunkBytes is < 1 or > DynamoDbGrainStorageOptions.MaxItemPayloadBytes)
        {
            failures.Add($"{Section}: inline payload and chunk sizes must be within 0..{DynamoDbGrainStorageOptions.MaxItemPayloadBytes} bytes.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]+$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionPattern();

    [GeneratedRegex("^[A-Za-z0-9_.-]{3,255}$", RegexOptions.CultureInvariant)]
    private static partial Regex TableNamePattern();
}
