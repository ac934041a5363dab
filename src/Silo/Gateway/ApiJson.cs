using System.Text;
using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Tree;

namespace Kbl.Silo.Gateway;

/// <summary>The JSON shapes of the HTTP API (also used for the gRPC tree reply).</summary>
public static class ApiJson
{
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    public static object Colony(string colony, Genome genome) => new Dictionary<string, object>
    {
        ["colony"] = colony,
        ["genome"] = System.Text.Json.JsonDocument.Parse(GenomeJson.ToJson(genome)).RootElement,
    };

    /// <summary>A record: the value as text when it is UTF-8, else as base64 under <c>valueBase64</c>.</summary>
    public static Dictionary<string, object> Record(StoredRecord record)
    {
        var json = new Dictionary<string, object> { ["key"] = KeyOrder.Display(record.Key), ["version"] = record.Version };
        try
        {
            json["value"] = StrictUtf8.GetString(record.Value);
        }
        catch (DecoderFallbackException)
        {
            json["valueBase64"] = Convert.ToBase64String(record.Value);
        }

        return json;
    }

    public static object Aggregate(AggregateOp op, AggregatePartial partial) => new
    {
        op = op.ToString().ToLowerInvariant(),
        value = partial.Result(op),
        records = partial.Records,
        numeric = partial.Numeric,
        skipped = partial.Skipped,
        leaves = partial.Leaves,
    };

    public static object Tree(KblView view) => new
    {
        id = view.Id,
        path = view.Path,
        range = Range(view.Range),
        role = view.Role.ToString().ToLowerInvariant(),
        depth = view.Depth,
        epoch = view.Epoch,
        silo = view.Silo,
        nodeGroup = view.NodeGroup,
        feedback = new
        {
            readsPerSecond = Math.Round(view.Feedback.ReadsPerSecond, 2),
            writesPerSecond = Math.Round(view.Feedback.WritesPerSecond, 2),
            keys = view.Feedback.Keys,
            bytes = view.Feedback.Bytes,
            lastAccess = view.Feedback.LastAccess,
            leaves = view.Feedback.Leaves,
            height = view.Feedback.Depth,
        },
        children = view.Children.Select(Tree).ToList(),
    };

    public static object Range(KeyRange range) => new { lo = KeyOrder.Display(range.Lo), hi = range.Hi is null ? null : KeyOrder.Display(range.Hi) };
}
