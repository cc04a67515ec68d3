using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Service.Infrastructure.Settings;

/// <summary>
/// Wraps the host's startup validator (which runs every ValidateOnStart registration before any hosted service,
/// Kestrel included) so that options failures and the <see cref="IStartupCheck"/>s are evaluated together and
/// reported together as one <see cref="StartupRefusedException"/>.
/// </summary>
public static partial class StartupGuard
{
    /// <summary>Call after every options registration: it wraps the validator those registrations configured.</summary>
    public static IServiceCollection AddStartupGuard(this IServiceCollection services)
    {
        // ValidateOnStart registers the framework's validator; make sure there is one even with no options.
        services.AddOptions<StartupGuardMarker>().ValidateOnStart();
        var inner = services.Last(d => d.ServiceType == typeof(IStartupValidator));
        services.Remove(inner);
        services.AddTransient<IStartupValidator>(sp => new GuardedValidator(
            (IStartupValidator)ActivatorUtilities.CreateInstance(sp, inner.ImplementationType!),
            sp));
        return services;
    }

    private sealed class StartupGuardMarker;

    private sealed class GuardedValidator(IStartupValidator inner, IServiceProvider services) : IStartupValidator
    {
        public void Validate()
        {
            var problems = new List<StartupProblem>();
            var optionsValid = true;
            try
            {
                inner.Validate();
            }
            catch (Exception e) when (e is OptionsValidationException or AggregateException)
            {
                optionsValid = false;
                problems.AddRange(Flatten(e).SelectMany(f => f.Failures).Select(ToProblem));
            }

            // Checks need valid settings (building them resolves the data source from DATABASE_URL, for one):
            // with invalid ones they could only fail again on the problems already listed.
            if (optionsValid)
            {
                foreach (var check in services.GetServices<IStartupCheck>())
                {
                    // Startup is synchronous here: the host calls the validator before it awaits anything.
                    problems.AddRange(check.CheckAsync(CancellationToken.None).GetAwaiter().GetResult());
                }
            }

            if (problems.Count > 0) throw new StartupRefusedException(problems.Distinct().ToList());
        }
    }

    private static IEnumerable<OptionsValidationException> Flatten(Exception e) => e switch
    {
        OptionsValidationException o => [o],
        AggregateException a => a.InnerExceptions.SelectMany(Flatten),
        _ => [],
    };

    // ValidateDataAnnotations wraps each attribute's message; unwrap it so the report shows ours.
    private static StartupProblem ToProblem(string failure)
    {
        var match = DataAnnotationFailure().Match(failure);
        return StartupProblem.Parse(match.Success ? match.Groups["message"].Value : failure);
    }

    [GeneratedRegex("with the error: '(?<message>.*)'\\.?$", RegexOptions.Singleline)]
    private static partial Regex DataAnnotationFailure();
}

public static class OptionsRegistration
{
    /// <summary>Binds a settings class to its section, validates its DataAnnotations (nested objects too) before the port opens.</summary>
    public static OptionsBuilder<T> AddValidatedOptions<T>(this IServiceCollection services, string section) where T : class
    {
        return services.AddOptions<T>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();
    }

    /// <summary>
    /// The section bound without validation, for what the host builds before the startup guard runs (HostOptions,
    /// hosted services' dependencies): reading IOptions&lt;T&gt;.Value there would throw past the guard's report.
    /// The guard still refuses invalid values; callers only need to survive them until it does.
    /// </summary>
    public static T ReadUnvalidated<T>(this IConfiguration configuration, string section) where T : class, new() =>
        configuration.GetSection(section).Get<T>() ?? new T();

    /// <summary>
    /// The section bound and validated as the startup guard would, for operator commands that run without the
    /// host (migrate, features). Returns the problems instead of throwing.
    /// </summary>
    public static T ReadValidated<T>(this IConfiguration configuration, string section, IValidateOptions<T>? validator, out IReadOnlyList<string> problems)
        where T : class, new()
    {
        var options = configuration.ReadUnvalidated<T>(section);
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), results, validateAllProperties: true);
        var custom = validator?.Validate(null, options);
        problems = results.Select(r => r.ErrorMessage!).Concat(custom is { Failed: true } ? custom.Failures : []).ToList();
        return options;
    }
}

public static class GuardedRun
{
    private static bool IsEntryPoint => System.Reflection.Assembly.GetEntryAssembly() == typeof(GuardedRun).Assembly;

    /// <summary>
    /// Runs the app; a refused start prints the report to stderr and exits 1 before any port was bound. When another
    /// program hosts this one (the integration tests), the refusal propagates to it instead.
    /// </summary>
    public static async Task<int> RunGuardedAsync(this WebApplication app)
    {
        try
        {
            await app.RunAsync();
            return 0;
        }
        catch (Exception e) when (StartupRefusedException.Find(e) is { } refused && IsEntryPoint)
        {
            await Console.Error.WriteLineAsync(refused.Message);
            return 1;
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException && IsEntryPoint)
        {
            await Console.Error.WriteLineAsync(StartupRefusedException.Format([new StartupProblem("listening address (--urls / ASPNETCORE_URLS / HTTP_PORTS)",
                e.Message, "stop the process that holds the port, or give this instance another one.")]));
            return 1;
        }
    }
}
