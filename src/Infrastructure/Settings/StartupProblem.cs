namespace Service.Infrastructure.Settings;

/// <summary>One reason not to start: which setting, which rule it breaks, and how to fix it. Never holds a secret's value.</summary>
public sealed record StartupProblem(string Setting, string Rule, string Fix)
{
    private const string FixMarker = " Fix: ";

    /// <summary>The single-line form used as an options validation failure message.</summary>
    public override string ToString() => $"{Setting}: {Rule}{FixMarker}{Fix}";

    /// <summary>Reads back a message written by <see cref="ToString"/>, or wraps any other message as it is.</summary>
    public static StartupProblem Parse(string message)
    {
        var colon = message.IndexOf(": ", StringComparison.Ordinal);
        var fix = message.LastIndexOf(FixMarker, StringComparison.Ordinal);
        if (colon > 0 && fix > colon)
        {
            return new StartupProblem(message[..colon], message[(colon + 2)..fix], message[(fix + FixMarker.Length)..]);
        }
        return new StartupProblem("settings", message, "correct the setting named above.");
    }
}

/// <summary>A check that must pass before the port opens, beyond options validation (e.g. database migrations).</summary>
public interface IStartupCheck
{
    Task<IReadOnlyList<StartupProblem>> CheckAsync(CancellationToken cancellationToken);
}

public sealed class StartupRefusedException(IReadOnlyList<StartupProblem> problems) : Exception(Format(problems))
{
    public IReadOnlyList<StartupProblem> Problems { get; } = problems;

    // A refusal is about settings, not code: a stack trace would only bury the report in the host's log line.
    public override string? StackTrace => null;

    public static string Format(IReadOnlyList<StartupProblem> problems)
    {
        var text = new System.Text.StringBuilder();
        text.Append("Startup refused: ").Append(problems.Count).Append(problems.Count == 1 ? " problem" : " problems").Append('\n');
        for (var i = 0; i < problems.Count; i++)
        {
            var p = problems[i];
            text.Append('\n').Append("  [").Append(i + 1).Append("] ").Append(p.Setting).Append('\n');
            text.Append("      rule: ").Append(p.Rule).Append('\n');
            text.Append("      fix:  ").Append(p.Fix).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The refusal inside whatever the host wrapped it in, if any.</summary>
    public static StartupRefusedException? Find(Exception? exception) => exception switch
    {
        StartupRefusedException refused => refused,
        AggregateException aggregate => aggregate.InnerExceptions.Select(Find).FirstOrDefault(e => e is not null),
        null => null,
        _ => Find(exception.InnerException),
    };
}
