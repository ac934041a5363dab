using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Kbl.Tests.Process;

namespace Kbl.Tests.Provisioning;

/// <summary>
/// An HTTP proxy on a free loopback port in front of moto, for what moto does not do: it forwards every request as it
/// came (method, path, query, headers including Authorization and Host, body), and can be scripted to answer chosen
/// requests with EKS errors (429 ThrottlingException, 409 ResourceInUseException, 500 ServerException: EKS's JSON
/// body and <c>x-amzn-ErrorType</c> header), before or after forwarding them; to show a node group in another status
/// (CREATING, CREATE_FAILED…) for its next describes; and to keep updates InProgress for a number of DescribeUpdate
/// calls (which it then answers itself: moto 5.2.1 has no DescribeUpdate). It records every request and its answer.
/// </summary>
public sealed partial class FaultProxy : IAsyncDisposable
{
    private static readonly string[] HopByHop = ["Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Expect", "Proxy-Connection", "TE", "Upgrade"];

    private readonly LoopbackHttpServer _server;
    private readonly HttpClient _upstream = new(new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None });
    private readonly string _upstreamUrl;
    private readonly Lock _gate = new();
    private readonly List<ProxiedRequest> _requests = [];
    private readonly List<Fault> _faults = [];
    private readonly List<StatusOverride> _statuses = [];
    private readonly Dictionary<string, HeldUpdate> _updates = new(StringComparer.Ordinal);
    private HoldRule? _hold;

    public FaultProxy(string upstreamUrl)
    {
        _upstreamUrl = upstreamUrl.TrimEnd('/');
        _server = new LoopbackHttpServer(Handle, concurrent: true);
    }

    public int Port => _server.Port;

    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Every request so far, in arrival order.</summary>
    public IReadOnlyList<ProxiedRequest> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>
    /// Answers the next <paramref name="times"/> requests matching <paramref name="method"/> and
    /// <paramref name="pathPattern"/> (a regular expression on the path; and <paramref name="bodyContains"/> when given)
    /// with <paramref name="fault"/>. <paramref name="afterForwarding"/>: moto gets the request (and acts on it) and only
    /// its answer is replaced, as when the answer is lost on the way back.
    /// </summary>
    public void Fail(string method, string pathPattern, int times, EksFault fault, string? bodyContains = null, bool afterForwarding = false)
    {
        lock (_gate)
        {
            _faults.Add(new Fault(method, new Regex(pathPattern, RegexOptions.CultureInvariant), bodyContains, fault, afterForwarding) { Left = times });
        }
    }

    /// <summary>
    /// The next <paramref name="describes"/> CreateNodegroup or DescribeNodegroup answers for <paramref name="nodegroup"/>
    /// show <paramref name="status"/> (and <paramref name="issues"/> as its health). Several calls queue up in order.
    /// </summary>
    public void ShowStatus(string nodegroup, string status, int describes, params (string Code, string Message)[] issues)
    {
        lock (_gate)
        {
            _statuses.Add(new StatusOverride(nodegroup, status, issues) { Left = describes });
        }
    }

    /// <summary>The next <paramref name="updates"/> UpdateNodegroupConfig answers say InProgress; each such update then stays InProgress for <paramref name="describes"/> DescribeUpdate calls and ends <paramref name="outcome"/>.</summary>
    public void HoldUpdates(int updates, int describes, string outcome = "Successful")
    {
        lock (_gate)
        {
            _hold = new HoldRule(describes, outcome) { Left = updates };
        }
    }

    /// <summary>Forgets the script and the record (between tests).</summary>
    public void Reset()
    {
        lock (_gate)
        {
            _requests.Clear();
        }

        ClearScript();
    }

    /// <summary>Forgets the faults, status overrides and held updates still pending; keeps the record.</summary>
    public void ClearScript()
    {
        lock (_gate)
        {
            _faults.Clear();
            _statuses.Clear();
            _updates.Clear();
            _hold = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _server.DisposeAsync();
        _upstream.Dispose();
    }

    private async Task Handle(HttpListenerContext context)
    {
        var request = context.Request;
        using var buffer = new MemoryStream();
        await request.InputStream.CopyToAsync(buffer);
        var body = buffer.ToArray();
        var method = request.HttpMethod;
        var rawUrl = request.RawUrl ?? "/";
        var path = rawUrl.Split('?')[0];
        var bodyText = Encoding.UTF8.GetString(body);
        var headers = request.Headers.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => request.Headers[k] ?? "", StringComparer.OrdinalIgnoreCase);

        Fault? fault;
        string? heldUpdateAnswer = null;
        lock (_gate)
        {
            fault = _faults.FirstOrDefault(f => f.Left > 0 && f.Method == method && f.Path.IsMatch(path) && (f.BodyContains is null || bodyText.Contains(f.BodyContains, StringComparison.Ordinal)));
            if (fault is not null)
            {
                fault.Left--;
            }
            else if (method == "GET" && DescribeUpdateId(path) is { } id && _updates.TryGetValue(id, out var held))
            {
                var updateStatus = held.DescribesLeft-- > 0 ? "InProgress" : held.Outcome;
                var update = new JsonObject { ["id"] = id, ["status"] = updateStatus, ["type"] = "ConfigUpdate", ["errors"] = new JsonArray() };
                if (updateStatus == "Failed")
                {
                    update["errors"] = new JsonArray(new JsonObject { ["errorCode"] = "NodeCreationFailure", ["errorMessage"] = "instances failed to join the cluster" });
                }

                heldUpdateAnswer = new JsonObject { ["update"] = update }.ToJsonString();
            }
        }

        int status;
        byte[] answer;
        IEnumerable<KeyValuePair<string, IEnumerable<string>>> answerHeaders = [];
        string? upstreamStatus = null;
        if (heldUpdateAnswer is not null)
        {
            (status, answer) = (200, Encoding.UTF8.GetBytes(heldUpdateAnswer));
            answerHeaders = [new("Content-Type", ["application/json"])];
        }
        else if (fault is { AfterForwarding: false })
        {
            (status, answer, answerHeaders) = Error(fault.Answer);
        }
        else
        {
            using var forward = new HttpRequestMessage(new HttpMethod(method), _upstreamUrl + rawUrl);
            if (body.Length > 0)
            {
                forward.Content = new ByteArrayContent(body);
            }

            foreach (var (name, value) in headers)
            {
                if (HopByHop.Contains(name, StringComparer.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (!forward.Headers.TryAddWithoutValidation(name, value))
                {
                    forward.Content?.Headers.TryAddWithoutValidation(name, value);
                }
            }

            using var response = await _upstream.SendAsync(forward);
            status = (int)response.StatusCode;
            answer = await response.Content.ReadAsByteArrayAsync();
            answerHeaders = [.. response.Headers, .. response.Content.Headers];
            upstreamStatus = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (fault is not null)
            {
                (status, answer, answerHeaders) = Error(fault.Answer);
            }
            else if (status == 200)
            {
                answer = Rewrite(method, path, answer);
            }
        }

        lock (_gate)
        {
            _requests.Add(new ProxiedRequest(method, rawUrl, bodyText, headers, status, upstreamStatus is null ? null : int.Parse(upstreamStatus, System.Globalization.CultureInfo.InvariantCulture), fault?.Answer.ErrorType));
        }

        var output = context.Response;
        output.StatusCode = status;
        foreach (var (name, values) in answerHeaders)
        {
            if (HopByHop.Contains(name, StringComparer.OrdinalIgnoreCase) || name.Equals("Server", StringComparison.OrdinalIgnoreCase) || name.Equals("Date", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                output.ContentType = string.Join(", ", values);
            }
            else
            {
                output.Headers[name] = string.Join(", ", values);
            }
        }

        output.ContentLength64 = answer.Length;
        await output.OutputStream.WriteAsync(answer);
        output.Close();
    }

    /// <summary>Applies the status overrides to a DescribeNodegroup answer and the update holds to an UpdateNodegroupConfig answer.</summary>
    private byte[] Rewrite(string method, string path, byte[] answer)
    {
        lock (_gate)
        {
            var name = method == "GET" && DescribedNodegroup().Match(path) is { Success: true } describe ? describe.Groups["name"].Value
                : method == "POST" && CreatedNodegroup().IsMatch(path) ? JsonNode.Parse(answer)?["nodegroup"]?["nodegroupName"]?.GetValue<string>()
                : null;
            if (name is not null)
            {
                var rule = _statuses.FirstOrDefault(s => s.Left > 0 && s.Nodegroup == name);
                if (rule is null)
                {
                    return answer;
                }

                rule.Left--;
                var json = JsonNode.Parse(answer)!;
                json["nodegroup"]!["status"] = rule.Status;
                var issues = new JsonArray();
                foreach (var (code, message) in rule.Issues)
                {
                    issues.Add(new JsonObject { ["code"] = code, ["message"] = message, ["resourceIds"] = new JsonArray() });
                }

                json["nodegroup"]!["health"] = new JsonObject { ["issues"] = issues };
                return Encoding.UTF8.GetBytes(json.ToJsonString());
            }

            if (method == "POST" && path.EndsWith("/update-config", StringComparison.Ordinal) && _hold is { Left: > 0 } hold)
            {
                hold.Left--;
                var json = JsonNode.Parse(answer)!;
                json["update"]!["status"] = "InProgress";
                _updates[json["update"]!["id"]!.GetValue<string>()] = new HeldUpdate(hold.Outcome) { DescribesLeft = hold.Describes };
                return Encoding.UTF8.GetBytes(json.ToJsonString());
            }
        }

        return answer;
    }

    private static (int, byte[], IEnumerable<KeyValuePair<string, IEnumerable<string>>>) Error(EksFault fault) => fault.Query
        ? (fault.Status,
           Encoding.UTF8.GetBytes($"<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error><Type>Sender</Type><Code>{fault.ErrorType}</Code><Message>{fault.Message}</Message></Error><RequestId>{Guid.NewGuid()}</RequestId></ErrorResponse>"),
           [new("Content-Type", ["text/xml"])])
        : (fault.Status,
         Encoding.UTF8.GetBytes(new JsonObject { ["message"] = fault.Message }.ToJsonString()),
         [new("Content-Type", ["application/json"]), new("x-amzn-ErrorType", [fault.ErrorType + ":http://internal.amazon.com/coral/com.amazonaws.eks/"]), new("x-amzn-RequestId", [Guid.NewGuid().ToString()])]);

    private static string? DescribeUpdateId(string path) => DescribedUpdate().Match(path) is { Success: true } m ? m.Groups["id"].Value : null;

    [GeneratedRegex("^/clusters/[^/]+/node-groups/(?<name>[^/]+)$")]
    private static partial Regex DescribedNodegroup();

    [GeneratedRegex("^/clusters/[^/]+/node-groups$")]
    private static partial Regex CreatedNodegroup();

    [GeneratedRegex("^/clusters/[^/]+/updates/(?<id>[^/]+)$")]
    private static partial Regex DescribedUpdate();

    private sealed record Fault(string Method, Regex Path, string? BodyContains, EksFault Answer, bool AfterForwarding)
    {
        public int Left { get; set; }
    }

    private sealed record StatusOverride(string Nodegroup, string Status, (string Code, string Message)[] Issues)
    {
        public int Left { get; set; }
    }

    private sealed record HoldRule(int Describes, string Outcome)
    {
        public int Left { get; set; }
    }

    private sealed record HeldUpdate(string Outcome)
    {
        public int DescribesLeft { get; set; }
    }
}

/// <summary>An EKS error the proxy answers with (rest-json), or with <see cref="Query"/> an EC2 Auto Scaling one (Query protocol, XML).</summary>
public sealed record EksFault(int Status, string ErrorType, string Message)
{
    public bool Query { get; init; }

    /// <summary>What EC2 Auto Scaling answers a caller over its rate: 400 with the code Throttling.</summary>
    public static EksFault AutoScalingThrottling { get; } = new(400, "Throttling", "Rate exceeded") { Query = true };

    public static EksFault Throttling { get; } = new(429, "ThrottlingException", "Rate exceeded");

    public static EksFault ResourceInUse { get; } = new(409, "ResourceInUseException", "Nodegroup is currently being updated");

    public static EksFault Server { get; } = new(500, "ServerException", "An internal error occurred");
}

/// <summary>One request the proxy saw: what came in, what it answered, and what moto answered when the request got there.</summary>
public sealed record ProxiedRequest(string Method, string PathAndQuery, string Body, IReadOnlyDictionary<string, string> Headers, int Status, int? UpstreamStatus, string? InjectedError)
{
    /// <summary>Where the answer falls among all test servers' calls (<see cref="CallOrder"/>).</summary>
    public long Order { get; init; } = CallOrder.Next();

    public string Path => PathAndQuery.Split('?')[0];

    /// <summary>A Query-protocol call (EC2 Auto Scaling): its <c>Action</c>, else null.</summary>
    public string? Action =>
        Body.StartsWith("Action=", StringComparison.Ordinal) ? Uri.UnescapeDataString(Body["Action=".Length..].Split('&')[0]) : null;

    /// <summary>Anything but a read: a GET, or a Query-protocol Describe… is a read.</summary>
    public bool IsMutating => Method != "GET" && Action?.StartsWith("Describe", StringComparison.Ordinal) != true;

    /// <summary>The node group the request is about: from the path, or the body of a create.</summary>
    public string? Nodegroup =>
        System.Text.RegularExpressions.Regex.Match(Path, "/node-groups/(?<name>[^/]+)") is { Success: true } m ? m.Groups["name"].Value
        : Body.StartsWith('{') && JsonNode.Parse(Body)?["nodegroupName"]?.GetValue<string>() is { } name ? name
        : null;

    public override string ToString() => $"{Method} {PathAndQuery} {Body} -> {Status}";
}
