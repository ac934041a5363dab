using System.Security.Claims;
using Kbl.Colonies;

namespace Kbl.Silo.Gateway;

/// <summary>
/// What an authenticated caller may do. The static token may do everything; a JWT what its grants claim lists:
/// <c>{colony}:read</c>, <c>{colony}:write</c> (a colony name, or <c>*</c> for every colony) and <c>admin</c> (the
/// cluster endpoints and the dashboard). Write does not imply read, and admin grants no colony. A grant the scheme
/// does not know is ignored, never widened.
/// </summary>
public sealed class CallerRights
{
    private const string Every = "*";
    private readonly HashSet<string> _read;
    private readonly HashSet<string> _write;

    private CallerRights(string who, bool admin, IEnumerable<string> read, IEnumerable<string> write, DateTimeOffset? expires = null)
    {
        Who = who;
        Admin = admin;
        Expires = expires;
        _read = new HashSet<string>(read, StringComparer.Ordinal);
        _write = new HashSet<string>(write, StringComparer.Ordinal);
    }

    /// <summary>The static token's: every colony, read and write, and the cluster.</summary>
    public static CallerRights Everything { get; } = new("the static token", admin: true, [Every], [Every]);

    /// <summary>Who the caller is, for refusals: "the static token" or the JWT's subject.</summary>
    public string Who { get; }

    public bool Admin { get; }

    /// <summary>When the credential stops counting (a JWT's <c>exp</c>); null: never (the static token). A <c>PutMany</c>/<c>GetMany</c> stream checks it at every request message.</summary>
    public DateTimeOffset? Expires { get; }

    /// <summary>The rights a validated JWT grants through its <paramref name="grantsClaim"/> claim (each claim value a grant list).</summary>
    public static CallerRights FromClaims(ClaimsPrincipal principal, string grantsClaim)
    {
        var (admin, read, write) = (false, new List<string>(), new List<string>());
        var grants = principal.FindAll(grantsClaim).SelectMany(c => c.Value.Split([' ', ',', '\t', '\n'], StringSplitOptions.RemoveEmptyEntries));
        foreach (var grant in grants)
        {
            if (grant == "admin")
            {
                admin = true;
                continue;
            }

            var colon = grant.LastIndexOf(':');
            var (colony, right) = colon < 0 ? (grant, "") : (grant[..colon], grant[(colon + 1)..]);
            if (colony != Every && !ColonyNames.IsValid(colony))
            {
                continue;
            }

            (right switch
            {
                "read" => read,
                "write" => write,
                _ => null,
            })?.Add(colony);
        }

        var subject = principal.FindFirst("sub")?.Value;
        // exp is a NumericDate: seconds since the epoch, which may carry a fraction (RFC 7519).
        var expires = double.TryParse(principal.FindFirst("exp")?.Value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds)
            ? DateTimeOffset.FromUnixTimeSeconds((long)Math.Clamp(Math.Floor(seconds), 0, 253402300799))
            : (DateTimeOffset?)null;
        return new CallerRights(subject is null ? "this token" : $"the token of '{subject}'", admin, read, write, expires);
    }

    /// <summary>
    /// Whether the caller may exercise <paramref name="right"/> on <paramref name="colony"/>; null for every colony
    /// (listing them) — only a <c>*</c> grant covers that.
    /// </summary>
    public bool May(GatewayRight right, string? colony)
    {
        if (right == GatewayRight.Admin)
        {
            return Admin;
        }

        var granted = right == GatewayRight.Read ? _read : _write;
        return granted.Contains(Every) || (colony is not null && granted.Contains(colony));
    }

    /// <summary>The refusal when <see cref="May"/> says no: what was asked, and the grant that would allow it.</summary>
    public string Refusal(GatewayRight right, string? colony, string grantsClaim) => right switch
    {
        GatewayRight.Admin => $"{Who} may not use the cluster endpoints: that needs the grant 'admin' in claim {grantsClaim}",
        _ when colony is null => $"{Who} may not {Verb(right)} every colony: that needs the grant '*:{Verb(right)}' in claim {grantsClaim}",
        _ => $"{Who} may not {Verb(right)} colony '{colony}': that needs the grant '{colony}:{Verb(right)}' or '*:{Verb(right)}' in claim {grantsClaim}",
    };

    private static string Verb(GatewayRight right) => right == GatewayRight.Read ? "read" : "write";
}
