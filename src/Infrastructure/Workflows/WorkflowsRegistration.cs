using Service.Infrastructure.Settings;

namespace Service.Infrastructure.Workflows;

public static class WorkflowsRegistration
{
    /// <summary>The workflow engine every instance runs: workers, the scheduler and the event trigger matcher.</summary>
    public static IServiceCollection AddWorkflowEngine(this IServiceCollection services)
    {
        services.AddValidatedOptions<WorkflowOptions>(WorkflowOptions.Section);
        services.AddSingleton<WorkflowVersions>();
        services.AddSingleton<StepRunner>();
        services.AddSingleton<RunExecutor>();
        // One worker per instance; the cancel slice reaches it directly when the run is held here.
        services.AddSingleton<RunWorker>();
        services.AddHostedService(provider => provider.GetRequiredService<RunWorker>());
        services.AddSingleton<RunCancels>();
        services.AddHostedService<WorkflowScheduler>();
        services.AddHostedService<EventTriggers>();
        return services;
    }
}
