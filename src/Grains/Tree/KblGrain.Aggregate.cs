using Kbl.Grains;
using Kbl.Keys;
using Kbl.Records;

namespace Kbl.Tree;

// Subtree operations, self-similar: a leaf aggregates over its own records, an interior KBL combines its
// children's partial results; the tree view is built the same way.
public sealed partial class KblGrain
{
    public async Task<AggregatePartial> Aggregate(AggregateQuery query)
    {
        if (_presence == Presence.Displaced)
        {
            return AggregatePartial.Empty with { Status = KblStatus.Unavailable, Message = Refuse(query.From)!.Message };
        }

        switch (State.Role)
        {
            case KblRole.Leaf:
                _meter.Touch(time.GetUtcNow());
                var from = KeyOrder.Compare(query.From, State.Range.Lo) > 0 ? query.From : State.Range.Lo;
                var to = State.Range.Hi is null || (query.To is not null && KeyOrder.Compare(query.To, State.Range.Hi) < 0) ? query.To : State.Range.Hi;
                return to is not null && KeyOrder.Compare(from, to) >= 0
                    ? AggregatePartial.Empty with { Leaves = 1 }
                    : AggregateEvaluator.Evaluate(store.Scan(_colony, from, exclusive: false, to), query);
            case KblRole.Interior:
                var parts = await Task.WhenAll(State.Children
                    .Where(c => c.Range.Overlaps(query.From, query.To))
                    .Select(c => Kbl<IKblGrain>(c.Path).Aggregate(query)));
                return parts.Aggregate(AggregatePartial.Empty, (a, b) => a.Combine(b));
            case KblRole.None when IsRoot:
                return AggregatePartial.Empty with { Status = KblStatus.NoColony, Message = $"colony '{_colony}' does not exist" };
            default:
                return AggregatePartial.Empty with { Status = KblStatus.Moved };
        }
    }

    public async Task<KblView> GetTree()
    {
        if (State.Role != KblRole.Interior)
        {
            return View(OwnFeedback(), []);
        }

        var children = await Task.WhenAll(State.Children.Select(c => Kbl<IKblGrain>(c.Path).GetTree()));
        var rollup = children.Aggregate(Feedback.Empty, (sum, c) => sum.Add(c.Feedback));
        return View(rollup with { Depth = rollup.Depth + 1 }, children);
    }

    private KblView View(Feedback feedback, IReadOnlyList<KblView> children) =>
        new(_id, _path, State.Range, State.Role, State.Depth, State.Epoch, silo.Name, State.Genome.NodeGroup, feedback, children);
}
