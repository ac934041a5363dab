using System.Text;
using System.Text.Json;
using Kbl.Colonies;
using Kbl.Keys;
using Kbl.Records;
using Kbl.Replication;
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

    /// <summary>
    /// For tree answers: a colony of an earlier version can be a chain hundreds of levels deep, and each KBL is two
    /// levels of JSON (itself and its children), beyond System.Text.Json's default limit of 64.
    /// </summary>
    public static JsonSerializerOptions TreeOptions { get; } = new(JsonSerializerDefaults.Web) { MaxDepth = 4096 };

    /// <summary>What an on-demand hibernate or wake of a subtree did: leaves changed now, and leaves in that state already.</summary>
    public static object Window(string colony, string path, WindowResult result, string changed) => new Dictionary<string, object>
    {
        ["kbl"] = $"{colony}/{path}",
        [changed] = result.Changed,
        ["already"] = result.Already,
    };

    /// <summary>The tree nested as it is, each KBL with its depth below the root and its children.</summary>
    public static object Tree(KblView view, int depth = 0) => Kbl(view, depth, parent: null, children: view.Children.Select(c => Tree(c, depth + 1)).ToList());

    /// <summary>The tree as a flat list in depth-first order, each KBL naming its parent: no nesting, whatever the depth.</summary>
    public static object FlatTree(KblView root)
    {
        var kbls = new List<object>();
        var stack = new Stack<(KblView View, int Depth, string? Parent)>([(root, 0, null)]);
        while (stack.TryPop(out var next))
        {
            kbls.Add(Kbl(next.View, next.Depth, next.Parent, children: null));
            foreach (var child in next.View.Children.Reverse())
            {
                stack.Push((child, next.Depth + 1, next.View.Path));
            }
        }

        return new { kbls };
    }

    private static Dictionary<string, object?> Kbl(KblView view, int depth, string? parent, List<object>? children)
    {
        var json = new Dictionary<string, object?>
        {
            ["id"] = view.Id,
            ["path"] = view.Path,
            ["range"] = Range(view.Range),
            ["role"] = view.Role.ToString().ToLowerInvariant(),
            ["depth"] = depth,
            ["epoch"] = view.Epoch,
            ["silo"] = view.Silo,
            ["nodeGroup"] = view.NodeGroup,

            // Hibernated: a leaf whose records are in the cold tier, or a subtree whose every leaf's are.
            ["state"] = view.Hibernation is not null || view.Feedback.Asleep ? "hibernated" : "active",
            ["feedback"] = new
            {
                readsPerSecond = Math.Round(view.Feedback.ReadsPerSecond, 2),
                writesPerSecond = Math.Round(view.Feedback.WritesPerSecond, 2),
                keys = view.Feedback.Keys,
                bytes = view.Feedback.Bytes,
                lastAccess = view.Feedback.LastAccess,
                leaves = view.Feedback.Leaves,
                hibernatedLeaves = view.Feedback.Hibernated,
                height = view.Feedback.Depth,
            },
        };
        if (view.Hibernation is { } sleep)
        {
            json["hibernation"] = new { since = sleep.Since, records = sleep.Records, bytes = sleep.Bytes };
        }

        if (view.Collapsed)
        {
            json["collapsed"] = true;
        }

        if (view.Replicas is { } replicas)
        {
            json["redundancy"] = new
            {
                status = replicas.Status,
                primary = replicas.Primary,
                inSync = replicas.InSync,
                copies = replicas.Wanted,
                replicas = replicas.Members.Select(m => new { silo = m.Silo, inSync = m.InSync }),
            };
        }

        if (parent is not null)
        {
            json["parent"] = parent;
        }

        if (children is not null)
        {
            json["children"] = children;
        }

        return json;
    }

    /// <summary>One copy of a leaf's shard; <c>answered: false</c> when its silo did not answer.</summary>
    public static object Copy(ShardCopy copy) => copy.Digest is { } d
        ? new { silo = copy.Silo, primary = copy.Primary, inSync = copy.InSync, answered = true, appliedSeq = d.AppliedSeq, records = d.Records, bytes = d.Bytes, sha256 = d.Sha256 }
        : new { silo = copy.Silo, primary = copy.Primary, inSync = copy.InSync, answered = false, appliedSeq = 0L, records = 0L, bytes = 0L, sha256 = "" };

    public static object Range(KeyRange range) => new { lo = KeyOrder.Display(range.Lo), hi = range.Hi is null ? null : KeyOrder.Display(range.Hi) };
}
