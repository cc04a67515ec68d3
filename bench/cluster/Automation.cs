using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;

/// <summary>
/// The workflows under fire, in an organization of their own (so the agents' millions of events do not pass through
/// the trigger matcher): one fired every second by its schedule (a webhook, then a notification to every member), one
/// started by each matching event an agent sends, one started by hand by a user. All three call the receiver.
/// </summary>
sealed class Automation(Load load, WebhookReceiver receiver, HttpClient owner, Guid orgId)
{
    public Guid OrgId => orgId;
    private Guid _scheduled, _onEvent, _byHand;
    private string _agentKey = "";
    private readonly CancellationTokenSource _stop = new();
    private Task _running = Task.CompletedTask;

    /// <summary>Manual runs answered 202, and the clientEventIds of matching events acknowledged.</summary>
    public ConcurrentBag<Guid> Started { get; } = new();
    public ConcurrentBag<string> TriggerEvents { get; } = new();

    public static async Task<Automation> CreateAsync(Load load, WebhookReceiver receiver, HttpClient owner)
    {
        var orgId = (await Json(await owner.PostAsJsonAsync("/api/v1/orgs", new { name = "Automation" }))).GetProperty("id").GetGuid();
        var automation = new Automation(load, receiver, owner, orgId);
        await automation.SetUpAsync();
        return automation;
    }

    private async Task SetUpAsync()
    {
        var integration = await Json(await owner.PostAsJsonAsync($"/api/v1/orgs/{orgId}/integrations",
            new { kind = "webhook", name = "Receiver", url = $"http://127.0.0.1:{receiver.Port}/hook" }));
        receiver.SigningSecret = integration.GetProperty("signingSecret").GetString();
        var integrationId = integration.GetProperty("id").GetGuid();
        object Post(string kind, object? extra = null) =>
            new { name = "post", type = "webhook", integrationId, input = new { body = new { kind, extra } } };

        _scheduled = await CreateWorkflowAsync(new
        {
            name = "Every second",
            trigger = new { type = "schedule", cron = "* * * * * *", timeZone = "UTC" },
            steps = new object[] { Post("schedule"), new { name = "tell", type = "notify", input = new { toRole = "member", title = "Tick" } } },
        });
        _onEvent = await CreateWorkflowAsync(new
        {
            name = "On report",
            trigger = new { type = "event", eventTypes = new[] { "file_created" }, pathGlob = "/trigger/**" },
            steps = new[] { Post("event", "{{event.path}}") },
        });
        _byHand = await CreateWorkflowAsync(new { name = "By hand", trigger = new { type = "manual" }, steps = new[] { Post("manual", "{{input.n}}") } });
        _agentKey = (await Json(await owner.PostAsJsonAsync($"/api/v1/orgs/{orgId}/api-keys", new { name = "trigger agent" }))).GetProperty("key").GetString()!;
    }

    private async Task<Guid> CreateWorkflowAsync(object definition) =>
        (await Json(await owner.PostAsJsonAsync($"/api/v1/orgs/{orgId}/workflows", definition))).GetProperty("id").GetGuid();

    /// <summary>Adds a member (whose streams get every notification of the schedule's runs).</summary>
    public async Task AddMemberAsync(string email) =>
        (await owner.PostAsJsonAsync($"/api/v1/orgs/{orgId}/members", new { email, role = "member" })).EnsureSuccessStatusCode();

    /// <summary>Turns the schedule and the event trigger on, and starts the agent and the user.</summary>
    public async Task StartAsync()
    {
        foreach (var id in new[] { _scheduled, _onEvent }) (await owner.PostAsync($"/api/v1/orgs/{orgId}/workflows/{id}/enable", null)).EnsureSuccessStatusCode();
        _running = Task.WhenAll(ByHandAsync(), TriggerAgentAsync());
    }

    /// <summary>Stops the agent and the user, turns the triggers off (retrying through whatever fault is on).</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        await _running;
        foreach (var id in new[] { _scheduled, _onEvent })
        {
            for (var attempt = 0; ; attempt++)
            {
                var response = await owner.PostAsync($"/api/v1/orgs/{orgId}/workflows/{id}/disable", null);
                if (response.IsSuccessStatusCode || attempt == 100) break;
                await Task.Delay(200);
            }
        }
    }

    private async Task ByHandAsync()
    {
        var client = owner;
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orgs/{orgId}/workflows/{_byHand}/runs") { Content = JsonContent.Create(new { input = new { n } }) };
            var (outcome, body) = await load.SendWithBodyAsync(client, request, "manual runs");
            if (outcome == Load.Outcome.Done) Started.Add(JsonDocument.Parse(body).RootElement.GetProperty("id").GetGuid());
            await Task.Delay(outcome == Load.Outcome.Done ? 300 : 200);
        }
    }

    private async Task TriggerAgentAsync()
    {
        using var client = load.Client("ApiKey", _agentKey);
        for (var n = 0; !_stop.IsCancellationRequested; n++)
        {
            var id = $"t-{n}";
            var body = JsonSerializer.SerializeToUtf8Bytes(new
            {
                events = new[] { new { type = "file_created", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = $"/trigger/r{n}.csv", clientEventId = id } },
            });
            if (await load.IngestAsync(client, orgId, body, id, "trigger events")) TriggerEvents.Add(id);
            await Task.Delay(300);
        }
    }

    public sealed record Report(
        int Runs, int LeftOpen, Dictionary<string, int> ByStatus, int ScheduleSeconds, int ScheduleMissed, int ScheduleSkippedBySwitch, int ScheduleTwice,
        int EventsAcknowledged, int EventsMissed, int EventsTwice, int ManualAcknowledged, int ManualMissing,
        int WebhooksReceived, int SucceededNotReceived, int DeliveredTwice, int DeliveredTwiceAfterKill, int BadSignatures);

    /// <summary>After the load: waits (up to a minute) for every run to end, then counts what the issue asks.</summary>
    public async Task<Report> CheckAsync(NpgsqlDataSource db)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        long open;
        while ((open = await ScalarAsync<long>(db, "SELECT count(*) FROM workflow_runs WHERE org_id = $1 AND status IN ('queued', 'running')", orgId)) > 0
               && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
        }

        var byStatus = (await RowsAsync(db, "SELECT status || coalesce(' (' || error_class || ')', ''), count(*)::int FROM workflow_runs WHERE org_id = $1 GROUP BY 1",
            r => (Status: r.GetString(0), Count: r.GetInt32(1)), orgId)).ToDictionary(s => s.Status, s => s.Count);

        // Every second from the schedule's first fire to its last has one fire, and a fire that ran has one run.
        var fires = await RowsAsync(db, "SELECT scheduled_for, outcome, reason FROM workflow_fires WHERE workflow_id = $1 ORDER BY 1",
            r => (At: r.GetDateTime(0), Outcome: r.GetString(1), Reason: r.IsDBNull(2) ? null : r.GetString(2)), _scheduled);
        var seconds = fires.Count == 0 ? 0 : (int)(fires[^1].At - fires[0].At).TotalSeconds + 1;
        var skippedBySwitch = fires.Count(f => f is { Outcome: "skipped", Reason: "kill_switch" });
        var scheduleMissed = seconds - fires.Count(f => f.Outcome == "run") - skippedBySwitch;
        var scheduleTwice = (int)await ScalarAsync<long>(db,
            "SELECT count(*) FROM (SELECT 1 FROM workflow_runs WHERE workflow_id = $1 GROUP BY scheduled_for HAVING count(*) > 1) d", _scheduled);

        // Every acknowledged matching event started one run.
        var perEvent = await RowsAsync(db, """
            SELECT count(r.id) FROM events e
            LEFT JOIN workflow_runs r ON r.workflow_id = $2 AND r.trigger_data -> 'events' -> 0 ->> 'id' = e.id::text
            WHERE e.org_id = $1 AND e.client_event_id = ANY($3) GROUP BY e.id
            """, r => r.GetInt64(0), orgId, _onEvent, TriggerEvents.ToArray());
        var eventsMissed = TriggerEvents.Count - perEvent.Count(n => n > 0);
        var eventsTwice = perEvent.Count(n => n > 1);
        var manualFound = await ScalarAsync<long>(db, "SELECT count(*) FROM workflow_runs WHERE id = ANY($1)", Started.ToArray());

        // Every succeeded run's webhook reached the receiver; none was answered 2xx twice. A message the receiver
        // answered just before its instance was SIGKILLed may be sent again (at least once: the answer was never
        // recorded); such repeats are counted apart: receivers deduplicate on webhook-id.
        var webhookIds = await RowsAsync(db, """
            SELECT s.output ->> 'webhookId' FROM workflow_runs r JOIN workflow_run_steps s ON s.run_id = r.id AND s.index = 0
            WHERE r.org_id = $1 AND r.status = 'succeeded'
            """, r => r.IsDBNull(0) ? "" : r.GetString(0), orgId);
        var notReceived = webhookIds.Count(id => !receiver.Delivered.ContainsKey(id));
        var twice = receiver.Delivered.Where(d => d.Value.Count > 1).ToList();
        var afterKill = twice.Count(d => load.Kills.Any(k => d.Value.Min() is var first && first <= k && first > k - 2));

        return new Report((int)await ScalarAsync<long>(db, "SELECT count(*) FROM workflow_runs WHERE org_id = $1", orgId), (int)open, byStatus,
            seconds, scheduleMissed, skippedBySwitch, scheduleTwice, TriggerEvents.Count, eventsMissed, eventsTwice, Started.Count, Started.Count - (int)manualFound,
            receiver.Delivered.Count, notReceived, twice.Count - afterKill, afterKill, receiver.BadSignatures);
    }

    /// <summary>The notifications the schedule's runs made for each member, by user.</summary>
    public async Task<ILookup<Guid, long>> NotificationsAsync(NpgsqlDataSource db) =>
        (await RowsAsync(db, "SELECT user_id, id FROM notifications WHERE org_id = $1 AND type = 'workflow.notify'",
            r => (User: r.GetGuid(0), Id: r.GetInt64(1)), orgId)).ToLookup(r => r.User, r => r.Id);

    private static async Task<List<T>> RowsAsync<T>(NpgsqlDataSource db, string sql, Func<NpgsqlDataReader, T> read, params object[] parameters)
    {
        await using var command = db.CreateCommand(sql);
        foreach (var parameter in parameters) command.Parameters.AddWithValue(parameter);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<T>();
        while (await reader.ReadAsync()) rows.Add(read(reader));
        return rows;
    }

    private static async Task<T> ScalarAsync<T>(NpgsqlDataSource db, string sql, params object[] parameters)
    {
        await using var command = db.CreateCommand(sql);
        foreach (var parameter in parameters) command.Parameters.AddWithValue(parameter);
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{(int)response.StatusCode} {response.RequestMessage?.RequestUri}: {text}");
        return JsonDocument.Parse(text).RootElement;
    }
}
