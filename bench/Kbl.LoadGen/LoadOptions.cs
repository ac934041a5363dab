using System.Globalization;
using System.Text.RegularExpressions;

namespace Kbl.LoadGen;

/// <summary>What to run, from the command line. <see cref="Parse"/> refuses bad input with one line.</summary>
internal sealed partial record LoadOptions
{
    public const string Usage = """
        usage: Kbl.LoadGen [options]
          --target URL        HTTP base address of the silo        (default http://127.0.0.1:5000)
          --grpc URL          gRPC (h2c) address of the silo       (default http://127.0.0.1:5001)
          --protocol P        http | grpc | etcd                   (default http)
          --etcd URLS         etcd members' client URLs, comma-separated, for --protocol etcd
          --op OP             put | get | mixed | noop (GET /healthz: the gateway without Kbl, HTTP only)  (default put)
          --read-ratio R      share of gets in a mixed run, 0..1   (default 0.9)
          --concurrency N     requests in flight                   (default 32)
          --keys N            key space: key-000000000000 .. N-1   (default 10000)
          --value-size BYTES  bytes per value written              (default 100)
          --duration SECONDS  measured time                        (default 15)
          --warmup SECONDS    unmeasured time before it            (default 3)
          --timeout SECONDS   per-request timeout                  (default 10)
          --colony NAME       colony to use, created if missing    (default bench)
          --genome JSON       genome to set on the colony (always applied when given)
          --server-pid PID    also report the CPU the server process used in the measured window (Linux)
          --token TOKEN       bearer token for a silo with Kbl:Auth:Token set (default: $KBL_TOKEN, else none)
          --batch N           records per request: 1 is a single put/get; more go through the batch API (HTTP
                              /batch/write|read, gRPC PutMany/GetMany), and ops/s and latencies count records
                              and batches                                   (default 1)
          --preload           write every key once before the run, so gets hit (in batches of --batch keys);
                              the report gives how long it took (a bulk load, end to end)
          --json              print one machine-readable result line instead of the table
        """;

    public Uri Target { get; init; } = new("http://127.0.0.1:5000");

    public Uri Grpc { get; init; } = new("http://127.0.0.1:5001");

    public Protocol Protocol { get; init; } = Protocol.Http;

    /// <summary>An etcd cluster's members (client URLs), the peer <see cref="Protocol.Etcd"/> drives.</summary>
    public IReadOnlyList<Uri> Etcd { get; init; } = [];

    public OpKind Op { get; init; } = OpKind.Put;

    public double ReadRatio { get; init; } = 0.9;

    public int Concurrency { get; init; } = 32;

    public int Keys { get; init; } = 10_000;

    public int ValueSize { get; init; } = 100;

    public double DurationSeconds { get; init; } = 15;

    public double WarmupSeconds { get; init; } = 3;

    public double TimeoutSeconds { get; init; } = 10;

    public string Colony { get; init; } = "bench";

    public string? Genome { get; init; }

    public int? ServerPid { get; init; }

    public string? Token { get; init; } = Environment.GetEnvironmentVariable("KBL_TOKEN") is { Length: > 0 } token ? token : null;

    public int Batch { get; init; } = 1;

    public bool Preload { get; init; }

    public bool Json { get; init; }

    public bool Help { get; init; }

    /// <exception cref="LoadOptionsException">An unknown option or a bad value, with a one-line message.</exception>
    public static LoadOptions Parse(IReadOnlyList<string> args)
    {
        var options = new LoadOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                throw new LoadOptionsException($"unexpected argument '{arg}'; options start with -- (see --help)");
            }

            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq < 0 ? arg : arg[..eq];
            string Value()
            {
                if (eq >= 0)
                {
                    return arg[(eq + 1)..];
                }

                if (i + 1 >= args.Count)
                {
                    throw new LoadOptionsException($"{name} needs a value (see --help)");
                }

                return args[++i];
            }

            options = name switch
            {
                "--help" or "-h" => options with { Help = true },
                "--preload" => options with { Preload = Flag(name, eq < 0 ? null : arg[(eq + 1)..]) },
                "--json" => options with { Json = Flag(name, eq < 0 ? null : arg[(eq + 1)..]) },
                "--target" => options with { Target = HttpUri(name, Value()) },
                "--grpc" => options with { Grpc = HttpUri(name, Value()) },
                "--protocol" => options with { Protocol = OneOf(name, Value(), ("http", Protocol.Http), ("grpc", Protocol.Grpc), ("etcd", Protocol.Etcd)) },
                "--etcd" => options with { Etcd = [.. Value().Split(',', StringSplitOptions.RemoveEmptyEntries).Select(u => HttpUri(name, u))] },
                "--op" => options with { Op = OneOf(name, Value(), ("put", OpKind.Put), ("get", OpKind.Get), ("mixed", OpKind.Mixed), ("noop", OpKind.Noop)) },
                "--read-ratio" => options with { ReadRatio = Number(name, Value(), 0, 1) },
                "--concurrency" => options with { Concurrency = Whole(name, Value(), 1, 4096) },
                "--keys" => options with { Keys = Whole(name, Value(), 1, 100_000_000) },
                "--value-size" => options with { ValueSize = Whole(name, Value(), 0, 1024 * 1024) },
                "--duration" => options with { DurationSeconds = Number(name, Value(), 0.1, 86_400) },
                "--warmup" => options with { WarmupSeconds = Number(name, Value(), 0, 86_400) },
                "--timeout" => options with { TimeoutSeconds = Number(name, Value(), 0.01, 3_600) },
                "--colony" => options with { Colony = ColonyName(name, Value()) },
                "--genome" => options with { Genome = Value() },
                "--batch" => options with { Batch = Whole(name, Value(), 1, 1000) },
                "--server-pid" => options with { ServerPid = Whole(name, Value(), 1, int.MaxValue) },
                "--token" => options with { Token = Value() is { Length: > 0 } token ? token : throw new LoadOptionsException("--token must not be empty") },
                _ => throw new LoadOptionsException($"unknown option '{name}' (see --help)"),
            };
        }

        return options switch
        {
            { Protocol: Protocol.Etcd, Etcd.Count: 0 } => throw new LoadOptionsException("--protocol etcd needs --etcd URLS (the members' client URLs)"),
            { Op: OpKind.Noop, Protocol: not Protocol.Http } => throw new LoadOptionsException("--op noop is GET /healthz: it takes --protocol http"),
            { Protocol: Protocol.Etcd, Batch: > 1 } => throw new LoadOptionsException("--batch is Kbl's batch API: etcd runs take --batch 1"),
            _ => options,
        };
    }

    private static bool Flag(string name, string? value) => value switch
    {
        null or "true" => true,
        "false" => false,
        _ => throw new LoadOptionsException($"{name} is a flag: give it alone, or as {name}=true|false (got '{value}')"),
    };

    private static Uri HttpUri(string name, string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? uri
            : throw new LoadOptionsException($"{name} must be an absolute http:// or https:// address (got '{value}')");

    private static T OneOf<T>(string name, string value, params (string Text, T Value)[] choices)
    {
        foreach (var (text, choice) in choices)
        {
            if (string.Equals(text, value, StringComparison.OrdinalIgnoreCase))
            {
                return choice;
            }
        }

        throw new LoadOptionsException($"{name} must be one of {string.Join(", ", choices.Select(c => c.Text))} (got '{value}')");
    }

    private static int Whole(string name, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new LoadOptionsException($"{name} must be a whole number from {min} to {max} (got '{value}')");

    private static double Number(string name, string value, double min, double max) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var x) && double.IsFinite(x) && x >= min && x <= max
            ? x
            : throw new LoadOptionsException($"{name} must be a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)} (got '{value}')");

    private static string ColonyName(string name, string value) =>
        ColonyPattern().IsMatch(value)
            ? value
            : throw new LoadOptionsException($"{name} must be 1 to 63 characters a-z, 0-9 and '-' (got '{value}')");

    [GeneratedRegex("^[a-z0-9-]{1,63}$")]
    private static partial Regex ColonyPattern();
}
