using System.Numerics;
using System.Runtime.InteropServices;

namespace Service.Infrastructure.Patterns;

/// <summary>A closed session as mining reads it: the item hashes of its events in time order and their offsets.</summary>
public sealed record MinedSession(Guid SourceId, DateTime StartedAt, long[] Items, long[] Exacts, int[] Offsets);

public static class PatternKinds
{
    public const string Sequence = "sequence", Schedule = "schedule", CoOccurrence = "co_occurrence";
    public static readonly string[] All = [Sequence, Schedule, CoOccurrence];
}

/// <param name="Weekdays">"daily", "weekdays" (Monday to Friday) or a day's name ("monday").</param>
public sealed record FoundSchedule(string Cron, string TimeZone, int MinuteOfDay, string Weekdays);

/// <param name="Steps">Item hashes: a sequence's steps in order, a co-occurrence's two files, a schedule's action.</param>
/// <param name="Examples">(session index, event position) of up to five occurrences, newest first.</param>
public sealed record FoundPattern(string Kind, long[] Steps, Guid? SourceId, int Sessions, int Days, double Confidence, double Lift,
    DateTime FirstSeen, DateTime LastSeen, IReadOnlyList<(int Session, int Position)> Examples, FoundSchedule? Schedule = null);

/// <summary>
/// Finds patterns in closed sessions, in memory and deterministically: the result depends only on the set of
/// sessions, never on the order runs saw them in, which is what makes incremental detection equal a full one.
/// Every count is of distinct sessions (and distinct days), so a session that repeats a sequence counts once.
/// </summary>
public static class PatternMiner
{
    // A sequence a→b must be clearly directed: seen at least twice as often as b→a (files edited together in any order
    // are a co-occurrence, not a sequence).
    private const double MinDirection = 2.0;
    // A shorter sequence inside a longer one with nearly the same support says nothing the longer one does not.
    private const double SubsumedShare = 0.8;
    private const int MaxCandidatesPerLevel = 5000;

    public static List<FoundPattern> Mine(IReadOnlyList<MinedSession> sessions, PatternOptions options)
    {
        var data = Prepare(sessions, options);
        // The three kinds read the prepared sessions only: mined side by side.
        var sequences = Task.Run(() => Sequences(data, options));
        var coOccurrences = Task.Run(() => CoOccurrences(data, options));
        var schedules = Task.Run(() => Schedules(data, options));
        Task.WaitAll(sequences, coOccurrences, schedules);
        // Two files that are steps of one sequence are that sequence, not a co-occurrence.
        var inSequences = sequences.Result.Select(p => p.Steps.ToHashSet()).ToList();
        return [.. sequences.Result, .. coOccurrences.Result.Where(c => !inSequences.Any(steps => steps.Contains(c.Steps[0]) && steps.Contains(c.Steps[1]))),
            .. schedules.Result];
    }

    /// <summary>Sessions as dense item ids with the exact-or-template choice made, their days, and per-item session lists.</summary>
    private sealed class Prepared
    {
        public required IReadOnlyList<MinedSession> Sessions;
        public required int[][] Items;
        public required int[] Days;
        public required long[] Hashes;
        public required bool[] IsExact;
        public required int[] Support;
        public required int[] SupportDays;
        public required List<int>[] SessionsOf;
        public required TimeZoneInfo Zone;
        public required int[] SourceOf;
        public required Guid[] SourceIds;
        public required List<int>[] SessionsBySource;
        public required int[] SessionsPerSource;
        public required List<(int Source, int Sessions)>[] SourcesOf;
        public required double[] LowestShare;
        public required Dictionary<long, int> BySource;
        public required Dictionary<long, int> EventsBySource;
        public required int[] EventsPerSource;
        public required List<int>[] LengthsBySource;

        /// <summary>
        /// Sessions expected to have both, were each file's events spread at random over its source's events: a long
        /// session holds more of everything, so two unrelated files meet more often in long ones.
        /// </summary>
        public double ExpectedBySize(int a, int b)
        {
            var expected = 0.0;
            foreach (var (source, _) in SourcesOf[a])
            {
                if (!EventsBySource.TryGetValue(Pack(b, source), out var eventsOfB)) continue;
                var pa = (double)EventsBySource[Pack(a, source)] / EventsPerSource[source];
                var pb = (double)eventsOfB / EventsPerSource[source];
                foreach (var length in LengthsBySource[source]) expected += (1 - Math.Pow(1 - pa, length)) * (1 - Math.Pow(1 - pb, length));
            }
            return expected;
        }

        public int Count => Items.Length;

        /// <summary>
        /// Sessions expected to have both, were they independent within each source, summed: people differ in what
        /// they touch, so two files one person always has open are no pattern.
        /// </summary>
        public double Expected(IEnumerable<(int Source, int Sessions)> first, int second)
        {
            var expected = 0.0;
            foreach (var (source, sessions) in first)
            {
                if (BySource.TryGetValue(Pack(second, source), out var together)) expected += (double)sessions * together / SessionsPerSource[source];
            }
            return expected;
        }

        /// <summary>Whether some source has the item in at most 1/lift of its sessions: otherwise no pair with it can reach that lift.</summary>
        public bool CanReach(int item, double lift) => LowestShare[item] <= 1.0 / lift;
        public bool Frequent(int item, PatternOptions o) => Support[item] >= o.MinSessions && SupportDays[item] >= o.MinDays;
        public DateTime At(int session, int position) => Sessions[session].StartedAt.AddSeconds(Sessions[session].Offsets[position]);
    }

    private static Prepared Prepare(IReadOnlyList<MinedSession> sessions, PatternOptions options)
    {
        var zone = options.Zone;
        var ids = new Dictionary<long, int>();
        var hashes = new List<long>();
        int Id(long hash)
        {
            ref var id = ref CollectionsMarshal.GetValueRefOrAddDefault(ids, hash, out var exists);
            if (!exists) { id = hashes.Count; hashes.Add(hash); }
            return id;
        }
        var templates = new int[sessions.Count][];
        var exacts = new int[sessions.Count][];
        var days = new int[sessions.Count];
        for (var s = 0; s < sessions.Count; s++)
        {
            var session = sessions[s];
            templates[s] = Array.ConvertAll(session.Items, Id);
            exacts[s] = Array.ConvertAll(session.Exacts, Id);
            days[s] = LocalDay(session.StartedAt, zone);
        }
        var rawSupport = CountSessions(templates, exacts, hashes.Count);
        // A file stands for itself when it recurs and carries a good share of its template's sessions.
        var useExact = new bool[hashes.Count];
        for (var s = 0; s < sessions.Count; s++)
        {
            for (var i = 0; i < exacts[s].Length; i++)
            {
                var (e, t) = (exacts[s][i], templates[s][i]);
                useExact[e] = rawSupport[e] >= options.MinSessions && rawSupport[e] >= options.ExactFileShare * rawSupport[t];
            }
        }
        var items = new int[sessions.Count][];
        for (var s = 0; s < sessions.Count; s++)
        {
            items[s] = new int[exacts[s].Length];
            for (var i = 0; i < items[s].Length; i++) items[s][i] = useExact[exacts[s][i]] ? exacts[s][i] : templates[s][i];
        }
        var support = new int[hashes.Count];
        var supportDays = new int[hashes.Count];
        var lastSession = new int[hashes.Count];
        var lastDay = new int[hashes.Count];
        var sessionsOf = new List<int>[hashes.Count];
        var sourceIds = new Dictionary<Guid, int>();
        var sourceOf = new int[sessions.Count];
        var perSource = new List<int>();
        var bySource = new Dictionary<long, int>(PairKeys.Comparer);
        var eventsBySource = new Dictionary<long, int>(PairKeys.Comparer);
        var eventsPerSource = new List<int>();
        var lengths = new List<List<int>>();
        var sessionsBySource = new List<List<int>>();
        for (var s = 0; s < items.Length; s++)
        {
            ref var source = ref CollectionsMarshal.GetValueRefOrAddDefault(sourceIds, sessions[s].SourceId, out var known);
            if (!known) { source = perSource.Count; perSource.Add(0); eventsPerSource.Add(0); lengths.Add([]); sessionsBySource.Add([]); }
            sourceOf[s] = source;
            sessionsBySource[source].Add(s);
            perSource[source]++;
            eventsPerSource[source] += items[s].Length;
            lengths[source].Add(items[s].Length);
            foreach (var item in items[s])
            {
                if (useExact[item]) CollectionsMarshal.GetValueRefOrAddDefault(eventsBySource, Pack(item, source), out _)++;
                if (lastSession[item] == s + 1) continue;
                lastSession[item] = s + 1;
                support[item]++;
                (sessionsOf[item] ??= []).Add(s);
                CollectionsMarshal.GetValueRefOrAddDefault(bySource, Pack(item, source), out _)++;
                if (lastDay[item] != days[s] + 1) { lastDay[item] = days[s] + 1; supportDays[item]++; }
            }
        }
        var sourcesOf = new List<(int, int)>[hashes.Count];
        var lowestShare = new double[hashes.Count];
        Array.Fill(lowestShare, 1.0);
        foreach (var (key, count) in bySource.OrderBy(p => p.Key))
        {
            var (item, source) = Unpack(key);
            (sourcesOf[item] ??= []).Add((source, count));
            lowestShare[item] = Math.Min(lowestShare[item], (double)count / perSource[source]);
        }
        for (var i = 0; i < sourcesOf.Length; i++) sourcesOf[i] ??= [];
        return new Prepared
        {
            Sessions = sessions, Items = items, Days = days, Hashes = [.. hashes], IsExact = useExact, Support = support,
            SupportDays = supportDays, SessionsOf = sessionsOf, Zone = zone, SourceOf = sourceOf, SessionsPerSource = [.. perSource],
            SourceIds = sourceIds.OrderBy(p => p.Value).Select(p => p.Key).ToArray(), SessionsBySource = [.. sessionsBySource],
            SourcesOf = sourcesOf, LowestShare = lowestShare, BySource = bySource, EventsBySource = eventsBySource,
            EventsPerSource = [.. eventsPerSource], LengthsBySource = [.. lengths],
        };
    }

    private static int[] CountSessions(int[][] first, int[][] second, int size)
    {
        var counts = new int[size];
        var last = new int[size];
        for (var s = 0; s < first.Length; s++)
        {
            foreach (var item in first[s]) if (last[item] != s + 1) { last[item] = s + 1; counts[item]++; }
            foreach (var item in second[s]) if (last[item] != s + 1) { last[item] = s + 1; counts[item]++; }
        }
        return counts;
    }

    private static int LocalDay(DateTime utc, TimeZoneInfo zone) =>
        DateOnly.FromDateTime(TimeZoneInfo.ConvertTimeFromUtc(utc, zone)).DayNumber;

    private struct PairCount
    {
        public int Sessions, Days, LastSession, LastDay;
    }

    private static List<FoundPattern> Sequences(Prepared data, PatternOptions options)
    {
        var gap = new Gap(options.StepGapMinutes * 60, options.StepWindowEvents);
        var pairs = new Dictionary<long, PairCount>(PairKeys.Comparer);
        var frequent = new bool[data.Hashes.Length];
        for (var item = 0; item < frequent.Length; item++) frequent[item] = data.Frequent(item, options);
        // Only pairs found together often enough in some source are counted in order.
        var together = Screen(data, frequent, options.MinLift, out _);
        var leads = new bool[data.Hashes.Length];
        var follows = new bool[data.Hashes.Length];
        foreach (var key in together)
        {
            var (x, y) = Unpack(key);
            leads[x] = leads[y] = true;
            follows[x] = follows[y] = true;
        }
        for (var item = 0; item < follows.Length; item++) follows[item] &= data.CanReach(item, options.MinLift);
        for (var s = 0; s < data.Count; s++)
        {
            var items = data.Items[s];
            var offsets = data.Sessions[s].Offsets;
            for (var i = 0; i < items.Length; i++)
            {
                var a = items[i];
                if (!leads[a] || (i > 0 && items[i - 1] == a)) continue;
                for (var j = i + 1; j < items.Length && gap.Allows(offsets, i, j); j++)
                {
                    var b = items[j];
                    if (b == a || !follows[b] || !together.Contains(a < b ? Pack(a, b) : Pack(b, a))) continue;
                    ref var count = ref CollectionsMarshal.GetValueRefOrAddDefault(pairs, Pack(a, b), out _);
                    if (count.LastSession == s + 1) continue;
                    count.LastSession = s + 1;
                    count.Sessions++;
                    if (count.LastDay != data.Days[s] + 1) { count.LastDay = data.Days[s] + 1; count.Days++; }
                }
            }
        }
        var strong = new Dictionary<int, List<int>>();
        var kept = new List<Candidate>();
        foreach (var (key, count) in pairs)
        {
            var (a, b) = Unpack(key);
            if (count.Sessions < options.MinSessions || count.Days < options.MinDays) continue;
            var reverse = pairs.TryGetValue(Pack(b, a), out var r) ? r.Sessions : 0;
            if (count.Sessions < MinDirection * reverse) continue;
            if (LowerBound(count.Sessions, data.Support[a]) < options.MinConfidence) continue;
            var confidence = (double)count.Sessions / data.Support[a];
            var lift = count.Sessions / Math.Max(data.Expected(data.SourcesOf[a], b), 1e-9);
            if (lift < options.MinLift) continue;
            (strong.TryGetValue(a, out var next) ? next : strong[a] = []).Add(b);
            kept.Add(new Candidate([a, b], count.Sessions, count.Days, confidence, lift, Support(data, [a, b], gap).BySource));
        }
        var level = kept;
        for (var length = 3; length <= 4 && level.Count > 0; length++)
        {
            var extended = new List<Candidate>();
            foreach (var prefix in level.OrderByDescending(c => c.Sessions).ThenBy(c => string.Join(",", c.Steps.Select(x => data.Hashes[x]))))
            {
                if (!strong.TryGetValue(prefix.Steps[^1], out var nexts)) continue;
                foreach (var next in nexts.Where(n => !prefix.Steps.Contains(n)))
                {
                    if (extended.Count >= MaxCandidatesPerLevel) break;
                    int[] steps = [.. prefix.Steps, next];
                    var (sessions, days, bySource) = Support(data, steps, gap);
                    if (sessions < options.MinSessions || days < options.MinDays) continue;
                    var confidence = (double)sessions / prefix.Sessions;
                    var lift = sessions / Math.Max(data.Expected(prefix.BySource, next), 1e-9);
                    if (LowerBound(sessions, prefix.Sessions) < options.MinConfidence || lift < options.MinLift) continue;
                    extended.Add(new Candidate(steps, sessions, days, confidence, lift, bySource));
                }
            }
            kept.AddRange(extended);
            level = extended;
        }
        // Drop what a longer sequence already says: a→b inside a→b→c with nearly as many sessions.
        var ordered = kept.OrderByDescending(c => c.Steps.Length).ThenByDescending(c => c.Sessions).ToList();
        var reported = new List<Candidate>();
        foreach (var candidate in ordered)
        {
            if (reported.Any(r => r.Steps.Length > candidate.Steps.Length && IsSubsequence(candidate.Steps, r.Steps)
                && r.Sessions >= SubsumedShare * candidate.Sessions)) continue;
            reported.Add(candidate);
        }
        return reported.Select(c => ToPattern(data, c, gap)).ToList();
    }

    /// <summary>
    /// The three-sigma lower bound (Wilson score) of a share of <paramref name="hits"/> in <paramref name="trials"/>:
    /// what the thresholds compare, so that 5 sessions out of 5 cannot pass for a habit by luck (among the thousands of
    /// item pairs a team's noise offers, some will) while 40 of 45 do.
    /// </summary>
    public static double LowerBound(int hits, int trials, double z = 3.0)
    {
        if (trials <= 0) return 0;
        var p = Math.Min(1.0, (double)hits / trials);
        var n = (double)trials;
        return (p + z * z / (2 * n) - z * Math.Sqrt((p * (1 - p) + z * z / (4 * n)) / n)) / (1 + z * z / n);
    }

    /// <summary>How far the next step of a sequence may be: within so many seconds and so many events.</summary>
    private readonly record struct Gap(int Seconds, int Events)
    {
        public bool Allows(int[] offsets, int from, int to) => to - from <= Events && offsets[to] - offsets[from] <= Seconds;
    }

    /// <param name="BySource">Its sessions per source (what the next step's chance is judged against).</param>
    /// <summary>
    /// The z whose upper tail is <paramref name="p"/> (Abramowitz and Stegun 26.2.23, within 0.0005): with m pairs
    /// tested, z of 0.05 / m keeps the chance of one false pair by luck at 5 % (Bonferroni).
    /// </summary>
    public static double UpperTailZ(double p)
    {
        var t = Math.Sqrt(-2 * Math.Log(Math.Clamp(p, 1e-300, 0.5)));
        return t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
    }

    private sealed record Candidate(int[] Steps, int Sessions, int Days, double Confidence, double Lift, List<(int Source, int Sessions)> BySource);

    private static long Pack(int a, int b) => ((long)a << 32) | (uint)b;

    /// <summary>
    /// Packed pairs of small ids hash badly with long's own hash (the two halves XORed: (1,2) and (2,1) and (3,0)
    /// collide), which made counting a million pairs take seconds; this mixes all 64 bits.
    /// </summary>
    private sealed class PairKeys : IEqualityComparer<long>
    {
        public static readonly PairKeys Comparer = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key)
        {
            var mixed = unchecked((ulong)key * 0x9E3779B97F4A7C15UL);
            return (int)(mixed >> 32) ^ (int)mixed;
        }
    }
    private static (int A, int B) Unpack(long key) => ((int)(key >> 32), (int)(key & 0xFFFFFFFF));

    private static bool IsSubsequence(int[] small, int[] large)
    {
        var j = 0;
        foreach (var item in large) if (j < small.Length && small[j] == item) j++;
        return j == small.Length;
    }

    private static (int Sessions, int Days, List<(int Source, int Sessions)> BySource) Support(Prepared data, int[] steps, Gap gap)
    {
        int sessions = 0, days = 0, lastDay = int.MinValue;
        var bySource = new SortedDictionary<int, int>();
        foreach (var s in data.SessionsOf[steps[0]])
        {
            if (Find(data.Items[s], data.Sessions[s].Offsets, steps, gap) < 0) continue;
            sessions++;
            bySource[data.SourceOf[s]] = bySource.GetValueOrDefault(data.SourceOf[s]) + 1;
            if (data.Days[s] != lastDay) { lastDay = data.Days[s]; days++; }
        }
        return (sessions, days, bySource.Select(p => (p.Key, p.Value)).ToList());
    }

    /// <summary>The position of the first step of an occurrence of the sequence in the session (each step within the gap of the one before), or -1.</summary>
    private static int Find(int[] items, int[] offsets, int[] steps, Gap gap)
    {
        for (var start = 0; start < items.Length; start++)
        {
            if (items[start] != steps[0]) continue;
            if (Extends(items, offsets, steps, 1, start, gap)) return start;
        }
        return -1;
    }

    private static bool Extends(int[] items, int[] offsets, int[] steps, int step, int from, Gap gap)
    {
        if (step == steps.Length) return true;
        for (var j = from + 1; j < items.Length && gap.Allows(offsets, from, j); j++)
        {
            if (items[j] == steps[step] && Extends(items, offsets, steps, step + 1, j, gap)) return true;
        }
        return false;
    }

    private static FoundPattern ToPattern(Prepared data, Candidate candidate, Gap gap)
    {
        DateTime first = DateTime.MaxValue, last = DateTime.MinValue;
        var examples = new List<(int, int)>();
        var sessions = data.SessionsOf[candidate.Steps[0]];
        for (var k = sessions.Count - 1; k >= 0; k--)
        {
            var s = sessions[k];
            var position = Find(data.Items[s], data.Sessions[s].Offsets, candidate.Steps, gap);
            if (position < 0) continue;
            var at = data.At(s, position);
            if (at < first) first = at;
            if (at > last) last = at;
            if (examples.Count < 5) examples.Add((s, position));
        }
        return new FoundPattern(PatternKinds.Sequence, candidate.Steps.Select(i => data.Hashes[i]).ToArray(), null, candidate.Sessions, candidate.Days,
            candidate.Confidence, candidate.Lift, first, last, examples);
    }

    /// <summary>
    /// Pairs of eligible items screened one source at a time, with a bitset of the source's sessions per item: a pair
    /// can only reach a lift overall if it does in some source (and a sequence a→b is never in more sessions than a and
    /// b together). Returns the unordered pairs that pass, and how many were tested.
    /// </summary>
    private static HashSet<long> Screen(Prepared data, bool[] eligible, double lift, out long tested)
    {
        var passed = new HashSet<long>(PairKeys.Comparer);
        tested = 0;
        foreach (var sessions in data.SessionsBySource)
        {
            var words = (sessions.Count + 63) / 64;
            var bits = new Dictionary<int, ulong[]>();
            for (var k = 0; k < sessions.Count; k++)
            {
                foreach (var item in data.Items[sessions[k]])
                {
                    if (!eligible[item]) continue;
                    ref var set = ref CollectionsMarshal.GetValueRefOrAddDefault(bits, item, out _);
                    (set ??= new ulong[words])[k >> 6] |= 1UL << (k & 63);
                }
            }
            var items = bits.Keys.Order().ToArray();
            var sets = items.Select(i => bits[i]).ToArray();
            var counts = sets.Select(set => set.Sum(w => BitOperations.PopCount(w))).ToArray();
            for (var i = 0; i < items.Length; i++)
            {
                for (var j = i + 1; j < items.Length; j++)
                {
                    tested++;
                    var together = 0;
                    for (var w = 0; w < words; w++) together += BitOperations.PopCount(sets[i][w] & sets[j][w]);
                    if (together >= 2 && together >= lift * counts[i] * counts[j] / sessions.Count) passed.Add(Pack(items[i], items[j]));
                }
            }
        }
        return passed;
    }

    private static List<FoundPattern> CoOccurrences(Prepared data, PatternOptions options)
    {
        var eligible = new bool[data.Hashes.Length];
        for (var item = 0; item < eligible.Length; item++)
        {
            eligible[item] = data.IsExact[item] && data.Frequent(item, options) && data.CanReach(item, options.CoOccurrenceMinLift);
        }
        var candidates = Screen(data, eligible, options.CoOccurrenceMinLift, out var tested);
        // Every pair of recurring files is a test; a busy team offers millions of them, and some pass any fixed bar by luck.
        var z = Math.Max(3.0, UpperTailZ(0.05 / Math.Max(1, tested)));
        var found = new List<FoundPattern>();
        foreach (var key in candidates)
        {
            var (a, b) = Unpack(key);
            var count = Together(data, a, b);
            if (count.Sessions < options.MinSessions || count.Days < options.MinDays) continue;
            if (LowerBound(count.Sessions, Math.Min(data.Support[a], data.Support[b]), z) < options.MinConfidence) continue;
            var confidence = (double)count.Sessions / Math.Min(data.Support[a], data.Support[b]);
            var lift = count.Sessions / Math.Max(Math.Max(data.Expected(data.SourcesOf[a], b), data.ExpectedBySize(a, b)), 1e-9);
            if (lift < options.CoOccurrenceMinLift) continue;
            DateTime first = DateTime.MaxValue, last = DateTime.MinValue;
            var examples = new List<(int, int)>();
            var sessionsOfB = data.SessionsOf[b].ToHashSet();
            var sessionsOfA = data.SessionsOf[a];
            for (var k = sessionsOfA.Count - 1; k >= 0; k--)
            {
                var s = sessionsOfA[k];
                if (!sessionsOfB.Contains(s)) continue;
                var position = Array.IndexOf(data.Items[s], a);
                var at = data.At(s, position);
                if (at < first) first = at;
                if (at > last) last = at;
                if (examples.Count < 5) examples.Add((s, position));
            }
            var (x, y) = data.Hashes[a] < data.Hashes[b] ? (data.Hashes[a], data.Hashes[b]) : (data.Hashes[b], data.Hashes[a]);
            found.Add(new FoundPattern(PatternKinds.CoOccurrence, [x, y], null, count.Sessions, count.Days, confidence, lift, first, last, examples));
        }
        return found;
    }

    /// <summary>The sessions (and their distinct days) holding both items: a merge of their ordered session lists.</summary>
    private static PairCount Together(Prepared data, int a, int b)
    {
        var count = new PairCount();
        var (x, y) = (data.SessionsOf[a], data.SessionsOf[b]);
        for (int i = 0, j = 0; i < x.Count && j < y.Count;)
        {
            if (x[i] < y[j]) i++;
            else if (x[i] > y[j]) j++;
            else
            {
                count.Sessions++;
                if (count.LastDay != data.Days[x[i]] + 1) { count.LastDay = data.Days[x[i]] + 1; count.Days++; }
                i++;
                j++;
            }
        }
        return count;
    }

    private readonly record struct Occurrence(int Date, int Minute, int Session, int Position);

    private readonly struct ByMinute : IComparer<Occurrence>
    {
        public int Compare(Occurrence x, Occurrence y) => x.Minute != y.Minute ? x.Minute.CompareTo(y.Minute) : x.Date.CompareTo(y.Date);
    }

    /// <summary>One source's occurrences of one action, with their distinct dates counted as they come (in time order).</summary>
    private sealed class Occurrences
    {
        public List<Occurrence> List { get; } = [];
        public int Dates { get; private set; }
        private int _lastDate = int.MinValue;

        public void Add(Occurrence occurrence)
        {
            List.Add(occurrence);
            if (occurrence.Date != _lastDate) { _lastDate = occurrence.Date; Dates++; }
        }
    }

    /// <summary>Schedules are one source's habits: each source is mined on its own, sources side by side.</summary>
    private static List<FoundPattern> Schedules(Prepared data, PatternOptions options)
    {
        var found = new List<FoundPattern>[data.SourceIds.Length];
        Parallel.For(0, found.Length, k => found[k] = SchedulesOf(data, options, data.SourceIds[k], data.SessionsBySource[k]));
        return found.SelectMany(f => f).ToList();
    }

    private static List<FoundPattern> SchedulesOf(Prepared data, PatternOptions options, Guid sourceId, List<int> sessions)
    {
        var activity = new Dictionary<int, List<int>>();
        var occurrences = new Dictionary<int, Occurrences>();
        foreach (var s in sessions)
        {
            var session = data.Sessions[s];
            List<int>? minutesOfDate = null;
            var currentDate = int.MinValue;
            // Local time by the session start's offset (a session across a DST change is off by the change for its rest).
            var start = session.StartedAt.Ticks + data.Zone.GetUtcOffset(session.StartedAt).Ticks;
            var items = data.Items[s];
            for (var i = 0; i < items.Length; i++)
            {
                var local = start + session.Offsets[i] * TimeSpan.TicksPerSecond;
                var date = (int)(local / TimeSpan.TicksPerDay);
                var minute = (int)(local % TimeSpan.TicksPerDay / TimeSpan.TicksPerMinute);
                if (date != currentDate)
                {
                    currentDate = date;
                    minutesOfDate = CollectionsMarshal.GetValueRefOrAddDefault(activity, date, out _) ??= [];
                }
                minutesOfDate!.Add(minute);
                if (data.SupportDays[items[i]] < options.ScheduleMinDays) continue;
                (CollectionsMarshal.GetValueRefOrAddDefault(occurrences, items[i], out _) ??= new Occurrences()).Add(new Occurrence(date, minute, s, i));
            }
        }
        foreach (var minutes in activity.Values) minutes.Sort();
        var activeDates = activity.Keys.ToHashSet();
        var found = new List<FoundPattern>();
        foreach (var (item, occurred) in occurrences.OrderBy(p => p.Key))
        {
            if (occurred.Dates < options.ScheduleMinDays) continue;
            if (Schedule(data, options, occurred.List, activeDates, activity) is not { } pattern) continue;
            found.Add(pattern with { Steps = [data.Hashes[item]], SourceId = sourceId });
        }
        return found;
    }

    private static FoundPattern? Schedule(Prepared data, PatternOptions options, List<Occurrence> list, HashSet<int> activeDates, Dictionary<int, List<int>> activity)
    {
        var window = options.ScheduleWindowMinutes;
        // Occurrences came in time order: the first and last give the range of dates.
        var (firstDate, lastDate) = (list.Min(o => o.Date), list.Max(o => o.Date));
        CollectionsMarshal.AsSpan(list).Sort(new ByMinute());
        // The window of the day holding the most distinct dates.
        var perDate = new int[lastDate - firstDate + 1];
        int bestStart = 0, bestCount = 0, lo = 0, distinct = 0;
        for (var hi = 0; hi < list.Count; hi++)
        {
            if (perDate[list[hi].Date - firstDate]++ == 0) distinct++;
            while (list[hi].Minute - list[lo].Minute >= window)
            {
                if (--perDate[list[lo].Date - firstDate] == 0) distinct--;
                lo++;
            }
            if (distinct > bestCount) (bestCount, bestStart) = (distinct, lo);
        }
        if (bestCount < options.ScheduleMinDays) return null;
        // Chance: were the action's occurrences spread over each day like the source's other work, how many of its
        // dates would have one in this window? A person who works 11:00-11:20 every day does everything then.
        var startMinute = list[bestStart].Minute;
        var chance = 0.0;
        foreach (var date in list.GroupBy(o => o.Date))
        {
            var worked = activity[date.Key];
            var inWindow = CountBelow(worked, startMinute + window) - CountBelow(worked, startMinute);
            chance += 1 - Math.Pow(1 - (double)inWindow / worked.Count, date.Count());
        }
        var lift = bestCount / Math.Max(chance, 0.5);
        if (lift < options.ScheduleMinLift) return null;

        var firstByDate = new SortedDictionary<int, Occurrence>();
        foreach (var o in list.Skip(bestStart).TakeWhile(o => o.Minute - startMinute < window)) firstByDate.TryAdd(o.Date, o);
        var dates = firstByDate.Keys.ToList();
        var weekdays = dates.Select(d => DateOnly.FromDayNumber(d).DayOfWeek).ToList();
        var (spec, cronDays, matches) = Weekdays(weekdays, dates);
        var possible = activeDates.Count(d => d >= dates[0] && d <= dates[^1] && matches(DateOnly.FromDayNumber(d).DayOfWeek));
        var confidence = (double)dates.Count / Math.Max(possible, dates.Count);
        if (confidence < options.ScheduleMinConfidence) return null;

        var minutes = firstByDate.Values.Select(o => o.Minute).Order().ToList();
        var minute = minutes[minutes.Count / 2] / 5 * 5;
        var cron = $"{minute % 60} {minute / 60} * * {cronDays}";
        var chosen = firstByDate.Values.ToList();
        var examples = chosen.OrderByDescending(o => o.Date).Take(5).Select(o => (o.Session, o.Position)).ToList();
        var days = dates.Count;
        return new FoundPattern(PatternKinds.Schedule, [], null, chosen.Select(o => o.Session).Distinct().Count(), days, confidence, lift,
            data.At(chosen[0].Session, chosen[0].Position), data.At(chosen[^1].Session, chosen[^1].Position), examples,
            new FoundSchedule(cron, options.TimeZone, minute, spec));
    }

    private static int CountBelow(List<int> sorted, int value)
    {
        var index = sorted.BinarySearch(value);
        if (index < 0) return ~index;
        while (index > 0 && sorted[index - 1] == value) index--;
        return index;
    }

    private static (string Spec, string CronDays, Func<DayOfWeek, bool> Matches) Weekdays(List<DayOfWeek> weekdays, List<int> dates)
    {
        var top = weekdays.GroupBy(d => d).OrderByDescending(g => g.Count()).First();
        if (top.Count() >= 0.9 * weekdays.Count && dates[^1] - dates[0] >= 14)
        {
            var day = top.Key;
            return (day.ToString().ToLowerInvariant(), ((int)day).ToString(System.Globalization.CultureInfo.InvariantCulture), d => d == day);
        }
        if (weekdays.All(d => d is not (DayOfWeek.Saturday or DayOfWeek.Sunday))) return ("weekdays", "1-5", d => d is not (DayOfWeek.Saturday or DayOfWeek.Sunday));
        return ("daily", "*", _ => true);
    }
}
