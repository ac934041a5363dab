using System.Security.Cryptography;
using System.Text;
using Amazon.Runtime;
using Kbl.NodeGroups.Eks;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// The signatures of <see cref="EksSigner"/> (AWSSDK.Core's AWS4Signer) against SigV4 computed here from the
/// specification (canonical request, string to sign, derived key), and against botocore 1.43.11's
/// <c>SigV4Auth(credentials, "eks", "us-east-1")</c> for the same requests at the same instant.
/// </summary>
[Trait("Category", Category.Unit)]
public sealed class EksSigV4Tests
{
    private const string AccessKey = "AKIDEXAMPLE";
    private const string SecretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    private static readonly DateTimeOffset At = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_post_with_a_json_body_is_signed_as_the_specification_and_botocore_sign_it()
    {
        var call = new EksCall("CreateNodegroup", HttpMethod.Post, new Uri("https://eks.us-east-1.amazonaws.com"), "/clusters/kbl/node-groups", body: """{"a":1}""");

        using var request = EksSigner.Sign(call, new ImmutableCredentials(AccessKey, SecretKey, null), "us-east-1", At);

        var expected = Authorization("POST", "/clusters/kbl/node-groups", "", """{"a":1}""", "eks.us-east-1.amazonaws.com", contentType: "application/json", token: null);
        Assert.Equal(expected, Header(request, "Authorization"));
        // botocore 1.43.11, the same request with its X-Amz-Content-SHA256 header.
        Assert.EndsWith("Signature=6ad2395e867d1cba25155462b9cf6e01270b5c10ded9dc876b6b2a58b454aed5", expected, StringComparison.Ordinal);
        Assert.Equal("20261125T120000Z", Header(request, "X-Amz-Date"));
        Assert.Equal("application/json", request.Content!.Headers.ContentType!.ToString());
        Assert.Equal("""{"a":1}""", await request.Content.ReadAsStringAsync());
    }

    [Fact]
    public void A_get_with_an_escaped_query_on_a_local_port_is_signed_as_the_specification_and_botocore_sign_it()
    {
        var requests = new EksRequests("kbl", new Uri("http://127.0.0.1:5000"));
        var call = requests.ListNodegroups(nextToken: "ab c+/=", maxResults: 100);

        using var request = EksSigner.Sign(call, new ImmutableCredentials(AccessKey, SecretKey, null), "us-east-1", At);

        var expected = Authorization("GET", "/clusters/kbl/node-groups", "maxResults=100&nextToken=ab%20c%2B%2F%3D", "", "127.0.0.1:5000", contentType: null, token: null);
        Assert.Equal(expected, Header(request, "Authorization"));
        Assert.EndsWith("Signature=60e18a2f4089d587ed850fa7795576f4adde740b7ab6dc6f39e3eb610ae43107", expected, StringComparison.Ordinal);
        Assert.Equal("http://127.0.0.1:5000/clusters/kbl/node-groups?maxResults=100&nextToken=ab%20c%2B%2F%3D", request.RequestUri!.AbsoluteUri);
        Assert.Null(request.Content);
    }

    [Fact]
    public void Session_credentials_send_and_sign_their_token()
    {
        var call = new EksRequests("kbl", new Uri("https://eks.eu-west-1.amazonaws.com")).DeleteNodegroup("kbl-hot");

        using var request = EksSigner.Sign(call, new ImmutableCredentials("ASIAEXAMPLE", SecretKey, "session/token+="), "eu-west-1", At);

        Assert.Equal("session/token+=", Header(request, "X-Amz-Security-Token"));
        Assert.Equal(
            Authorization("DELETE", "/clusters/kbl/node-groups/kbl-hot", "", "", "eks.eu-west-1.amazonaws.com", contentType: null, token: "session/token+=", accessKey: "ASIAEXAMPLE", region: "eu-west-1"),
            Header(request, "Authorization"));
    }

    /// <summary>SigV4 by the book: canonical request, string to sign, HMAC chain of date, region, service, "aws4_request".</summary>
    private static string Authorization(
        string method, string path, string canonicalQuery, string body, string host, string? contentType, string? token,
        string accessKey = AccessKey, string region = "us-east-1")
    {
        var amzDate = At.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var date = amzDate[..8];
        var payloadHash = Hex(SHA256.HashData(Encoding.UTF8.GetBytes(body)));
        var headers = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = host,
            ["x-amz-content-sha256"] = payloadHash,
            ["x-amz-date"] = amzDate,
        };
        if (contentType is not null)
        {
            headers["content-type"] = contentType;
        }

        if (token is not null)
        {
            headers["x-amz-security-token"] = token;
        }

        var signedHeaders = string.Join(";", headers.Keys);
        var canonicalRequest = string.Join("\n",
            method,
            path,
            canonicalQuery,
            string.Concat(headers.Select(h => $"{h.Key}:{h.Value.Trim()}\n")),
            signedHeaders,
            payloadHash);
        var scope = $"{date}/{region}/eks/aws4_request";
        var stringToSign = $"AWS4-HMAC-SHA256\n{amzDate}\n{scope}\n{Hex(SHA256.HashData(Encoding.UTF8.GetBytes(canonicalRequest)))}";
        var key = Hmac(Hmac(Hmac(Hmac(Encoding.UTF8.GetBytes("AWS4" + SecretKey), date), region), "eks"), "aws4_request");
        return $"AWS4-HMAC-SHA256 Credential={accessKey}/{scope}, SignedHeaders={signedHeaders}, Signature={Hex(Hmac(key, stringToSign))}";
    }

    private static byte[] Hmac(byte[] key, string data) => HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(data));

    private static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);

    private static string Header(HttpRequestMessage request, string name) => string.Join(",", request.Headers.GetValues(name));
}
