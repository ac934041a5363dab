using System.Collections;

namespace Kbl.Tests.Linearizability;

/// <summary>
/// Checks that a history of operations on a key-value store is linearizable: there is one order of the operations,
/// consistent with real time (an operation that completed before another was invoked comes first), in which every
/// answer is what a single copy of the store would have given. Linearizability is compositional, so each key is
/// checked on its own (as Porcupine does); within a key, a Wing–Gong/Lowe search over the operations that could go
/// next, with a cache of (operations placed, state) pairs already explored.
/// </summary>
/// <remarks>
/// The model is one record with a version: a put or delete takes a new version greater than any before (deletes
/// too: a key deleted and written again gets a newer version), a get reads the value and version, a conditional
/// write applies only when its condition holds and otherwise reports the current version (0: no record). An
/// operation with no answer (<see cref="Outcome.Unknown"/>) may have taken effect at any point after it was
/// invoked, or not at all (placed last, it changes nothing anyone saw). Versions a client never saw are tracked as
/// "greater than the last known", so a later read may reveal them.
/// </remarks>
public static class LinearizabilityChecker
{
    /// <summary>Null when every key's history is linearizable; else why not, for the first key that is not.</summary>
    public static string? Check(IEnumerable<Operation> history, int maxStatesPerKey = 2_000_000)
    {
        foreach (var key in history.GroupBy(o => o.Key).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var operations = key.ToList();
            if (PreCheck(operations) is { } quick)
            {
                return $"key {key.Key}: {quick}";
            }

            if (CheckKey(operations, maxStatesPerKey) is { } failure)
            {
                return $"key {key.Key}: {failure}";
            }
        }

        return null;
    }

    /// <summary>
    /// A fast necessary condition from the versions alone: acknowledged writes that did not overlap got increasing
    /// versions, and every version a read returned was given by some write that was invoked before the read ended.
    /// </summary>
    public static string? PreCheck(IReadOnlyList<Operation> operations)
    {
        var writes = operations.Where(o => o.Kind == OpKind.Put && o.Outcome == Outcome.Ok).OrderBy(o => o.Invoked).ToList();
        foreach (var a in writes)
        {
            foreach (var b in writes.Where(b => b.Invoked > a.Completed && b.Version <= a.Version))
            {
                return $"version went backwards: {a} then {b}";
            }
        }

        var given = operations.Where(o => o.Kind == OpKind.Put && o.Outcome is Outcome.Ok or Outcome.Unknown).ToList();
        foreach (var read in operations.Where(o => o.Kind == OpKind.Get && o.Outcome == Outcome.Ok))
        {
            var writers = given.Where(w => w.Value == read.ReadValue && w.Invoked < read.Completed).ToList();
            if (writers.Count == 0)
            {
                return $"{read} read a value no write had begun to write";
            }

            if (writers.All(w => w.Outcome == Outcome.Ok && w.Version != read.Version) && writers.All(w => w.Outcome == Outcome.Ok))
            {
                return $"{read} read a version no write of that value got ({string.Join(", ", writers.Select(w => w.Version))})";
            }
        }

        return null;
    }

    private static string? CheckKey(List<Operation> operations, int maxStates)
    {
        // Porcupine's event list: a call and a return per operation, in time order (calls first on ties).
        var n = operations.Count;
        var events = new List<(long Time, bool Call, int Op)>(2 * n);
        for (var i = 0; i < n; i++)
        {
            events.Add((operations[i].Invoked, true, i));
            events.Add((operations[i].Completed, false, i));
        }

        events.Sort((a, b) => a.Time != b.Time ? a.Time.CompareTo(b.Time) : b.Call.CompareTo(a.Call));
        var list = new EventList(events);

        var placed = new BitArray(n);
        var seen = new HashSet<(string, State)>();
        var stack = new Stack<(int Op, State Before, Node Call, int Alternative)>();
        var state = State.Initial;
        var node = list.Head;
        var deepest = 0;
        var deepestSummary = "";
        var explored = 0;
        while (list.Head is not null)
        {
            if (node is null)
            {
                return "no order of the operations explains the answers";
            }

            if (node.Call)
            {
                var op = operations[node.Op];
                var advanced = false;
                var successors = Successors(state, op);
                for (var alternative = node.Alternative; alternative < successors.Count; alternative++)
                {
                    var next = successors[alternative];
                    placed[node.Op] = true;
                    var fingerprint = (Fingerprint(placed), next);
                    if (seen.Add(fingerprint))
                    {
                        if (++explored > maxStates)
                        {
                            return $"gave up after {maxStates} states (history too concurrent to check)";
                        }

                        stack.Push((node.Op, state, node, alternative));
                        state = next;
                        list.Lift(node);
                        if (stack.Count > deepest)
                        {
                            (deepest, deepestSummary) = (stack.Count, $"after {stack.Count} of {n} operations, nothing explains {Describe(list, operations)}");
                        }

                        node = list.Head;
                        advanced = true;
                        break;
                    }

                    placed[node.Op] = false;
                }

                if (!advanced)
                {
                    node.Alternative = 0;
                    node = node.Next;
                }
            }
            else
            {
                // A return whose call could not be placed: undo the last placement and try its next alternative.
                if (stack.Count == 0)
                {
                    return deepestSummary.Length > 0 ? deepestSummary : $"nothing explains {operations[node.Op]}";
                }

                var (op, before, call, alternative) = stack.Pop();
                placed[op] = false;
                state = before;
                list.Unlift(call);
                call.Alternative = alternative + 1;
                node = call;
            }
        }

        return null;
    }

    private static string Describe(EventList list, List<Operation> operations) =>
        string.Join("; ", list.Calls().Take(3).Select(i => operations[i].ToString()));

    private static string Fingerprint(BitArray placed)
    {
        var bytes = new byte[(placed.Length + 7) / 8];
        placed.CopyTo(bytes, 0);
        return Convert.ToBase64String(bytes);
    }

    /// <summary>The states the store can be in after <paramref name="op"/> from <paramref name="state"/>, none if its answer is impossible there.</summary>
    private static List<State> Successors(State state, Operation op)
    {
        var result = new List<State>(2);
        switch (op.Kind, op.Outcome)
        {
            case (OpKind.Get, Outcome.Unknown):
                result.Add(state);
                break;
            case (OpKind.Get, Outcome.NotFound):
                if (!state.Exists)
                {
                    result.Add(state);
                }

                break;
            case (OpKind.Get, Outcome.Ok):
                if (state.Exists && state.Value == op.ReadValue && state.Admits(op.Version))
                {
                    result.Add(state.Exactly(op.Version));
                }

                break;
            case (_, Outcome.PreconditionFailed):
                // Refused: the condition did not hold, and the version reported is the record's (0: none), which
                // cannot be the one an If-Match asked for.
                if (op.Conditional && !state.Holds(op, strictly: true) && state.Reports(op.Version) &&
                    !(state.Exists && op.IfMatch == op.Version))
                {
                    result.Add(op.Version == 0 ? state : state.Exactly(op.Version));
                }

                break;
            case (OpKind.Put, Outcome.Ok):
                if ((!op.Conditional || state.Holds(op, strictly: false)) && state.At(op).Precedes(op.Version))
                {
                    result.Add(new State(true, op.Value, op.Version, Exact: true));
                }

                break;
            case (OpKind.Delete, Outcome.Ok):
                if (state.Exists && (!op.Conditional || state.Holds(op, strictly: false)))
                {
                    result.Add(state.At(op).Deleted());
                }

                break;
            case (OpKind.Delete, Outcome.NotFound):
                if (!state.Exists && (!op.Conditional || state.Holds(op, strictly: false)))
                {
                    result.Add(state);
                }

                break;
            case (OpKind.Put, Outcome.Unknown):
                if (!op.Conditional || state.Holds(op, strictly: false))
                {
                    result.Add(new State(true, op.Value, state.At(op).Version, Exact: false));
                }

                if (op.Conditional && !state.Holds(op, strictly: true))
                {
                    result.Add(state);
                }

                break;
            case (OpKind.Delete, Outcome.Unknown):
                if (state.Exists && (!op.Conditional || state.Holds(op, strictly: false)))
                {
                    result.Add(state.At(op).Deleted());
                }

                if (!state.Exists || (op.Conditional && !state.Holds(op, strictly: true)))
                {
                    result.Add(state);
                }

                break;
        }

        return result;
    }

    /// <summary>
    /// The one record: whether it exists, its value, and its version — exactly, or (when a write nobody saw the
    /// version of came last) only known to be greater than <see cref="Version"/>.
    /// </summary>
    private sealed record State(bool Exists, string? Value, long Version, bool Exact)
    {
        public static readonly State Initial = new(false, null, 0, Exact: true);

        /// <summary>Could the record be at version <paramref name="v"/>?</summary>
        public bool Admits(long v) => Exact ? v == Version : v > Version;

        /// <summary>Could a new write take version <paramref name="v"/> from here?</summary>
        public bool Precedes(long v) => v > Version;

        public State Exactly(long v) => this with { Version = v, Exact = true };

        public State Deleted() => new(false, null, Version, Exact: false);

        /// <summary>The state as an If-Match write that applied found it: at exactly the version it asked for.</summary>
        public State At(Operation op) => op.IfMatch is { } v ? Exactly(v) : this;

        /// <summary>
        /// Whether a refused conditional write's reported version fits: 0 with no record, the record's version
        /// otherwise.
        /// </summary>
        public bool Reports(long v) => Exists ? Admits(v) : v == 0;

        /// <summary>
        /// Whether <paramref name="op"/>'s condition holds here: <paramref name="strictly"/> — certainly (for a
        /// refusal to be impossible), else possibly (a version only known as a lower bound could be the one asked for).
        /// </summary>
        public bool Holds(Operation op, bool strictly)
        {
            if (op.IfAbsent)
            {
                return !Exists;
            }

            if (op.IfExists)
            {
                return Exists;
            }

            if (op.IfMatch is { } v)
            {
                return Exists && (Exact ? Version == v : !strictly && v > Version);
            }

            return true;
        }
    }

    /// <summary>Porcupine's doubly linked list of call and return events, from which placed operations are lifted out and put back.</summary>
    private sealed class EventList
    {
        public EventList(List<(long Time, bool Call, int Op)> events)
        {
            Node? previous = null;
            var calls = new Dictionary<int, Node>();
            foreach (var (_, call, op) in events)
            {
                var node = new Node(call, op) { Previous = previous };
                if (previous is null)
                {
                    Head = node;
                }
                else
                {
                    previous.Next = node;
                }

                if (call)
                {
                    calls[op] = node;
                }
                else
                {
                    calls[op].Match = node;
                }

                previous = node;
            }
        }

        public Node? Head { get; private set; }

        public IEnumerable<int> Calls()
        {
            for (var node = Head; node is not null; node = node.Next)
            {
                if (node.Call)
                {
                    yield return node.Op;
                }
            }
        }

        /// <summary>Takes a call and its return out of the list.</summary>
        public void Lift(Node call)
        {
            Remove(call);
            Remove(call.Match!);
        }

        /// <summary>Puts them back where they were (the reverse order of <see cref="Lift"/>).</summary>
        public void Unlift(Node call)
        {
            Restore(call.Match!);
            Restore(call);
        }

        private void Remove(Node node)
        {
            if (node.Previous is null)
            {
                Head = node.Next;
            }
            else
            {
                node.Previous.Next = node.Next;
            }

            if (node.Next is not null)
            {
                node.Next.Previous = node.Previous;
            }
        }

        private void Restore(Node node)
        {
            if (node.Previous is null)
            {
                Head = node;
            }
            else
            {
                node.Previous.Next = node;
            }

            if (node.Next is not null)
            {
                node.Next.Previous = node;
            }
        }
    }

    private sealed class Node(bool call, int op)
    {
        public bool Call { get; } = call;

        public int Op { get; } = op;

        public Node? Previous { get; set; }

        public Node? Next { get; set; }

        public Node? Match { get; set; }

        /// <summary>For a call: the first successor state not tried yet at this point of the search.</summary>
        public int Alternative { get; set; }
    }
}
