using Service.Infrastructure.Secrets;
using Service.Tests.Fixtures;

namespace Service.Tests.Features.Operator;

/// <summary>`secrets rotate` run as the built executable: re-encrypts under the new key, is idempotent, and the service keeps signing with the same secrets.</summary>
public sealed class RotateSecretsTests(ServiceFactory factory) : IClassFixture<ServiceFactory>
{
    private const string NewKey = "the-next-encryption-key-0123456789abcdefghijklmnop";

    private Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => RunAsync(factory, args);

    private static async Task<(int Exit, string Out, string Err)> RunAsync(ServiceFactory factory, params string[] args)
    {
        var environment = new Dictionary<string, string>
        {
            ["ENVIRONMENT"] = "production",
            ["DATABASE_URL"] = TestServers.DatabaseUrl(factory.DatabaseName),
            ["SECRET_KEY"] = ServiceFactory.TestSecretKey,
            ["ENCRYPTION_KEY"] = NewKey,
            ["ENCRYPTION_KEYS_OLD"] = ServiceFactory.TestEncryptionKey,
        };
        await using var process = ServiceProcess.Start(environment, args);
        var exit = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        return (exit, process.Stdout, process.Stderr);
    }

    [Fact]
    public async Task Rotation_re_encrypts_everything_once_and_the_service_signs_as_before_with_only_the_new_key()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var created = new List<IntegrationSetup.CreatedIntegration>();
        for (var i = 0; i < 3; i++) created.Add(await owner.CreateWebhookAsync(orgId, receiver.Url(), new Dictionary<string, string> { ["Authorization"] = $"Bearer t{i}" }));

        var first = await RunAsync("secrets", "rotate");
        var again = await RunAsync("secrets", "rotate");
        var status = await RunAsync("secrets", "status");

        Assert.Equal(0, first.Exit);
        Assert.Contains("Re-encrypted 3 integrations", first.Out);
        Assert.Equal(0, again.Exit);
        Assert.Contains("Re-encrypted 0 integrations", again.Out);
        Assert.Contains($"{SecretBox.IdOf(NewKey)}", status.Out);
        Assert.DoesNotContain(SecretBox.IdOf(ServiceFactory.TestEncryptionKey), status.Out);
        Assert.Equal(3L, await factory.ScalarAsync<long>("SELECT count(*) FROM integrations WHERE secret_key_id = $1", SecretBox.IdOf(NewKey)));
        Assert.Equal(1L, await factory.ScalarAsync<long>("SELECT count(*) FROM audit_log WHERE action = 'secrets.rotated' AND actor_type = 'operator'"));

        // An instance that knows only the new key still sends with each integration's secret and headers.
        await using var rotatedInstance = await factory.AnotherInstanceAsync();
        rotatedInstance.Settings["Encryption:Key"] = NewKey;
        var client = rotatedInstance.ClientWithToken(owner.AccessToken);
        var result = await (await client.PostAsync($"/api/v1/orgs/{orgId}/integrations/{created[1].Id}/test", null)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("delivered", result.GetProperty("result").GetString());
        var hit = receiver.Hits.Last();
        Assert.Equal("Bearer t1", hit.Headers["authorization"]);
        new StandardWebhooks.StandardWebhook(created[1].SigningSecret!).Verify(hit.Body,
            new Microsoft.AspNetCore.Http.HeaderDictionary { ["webhook-id"] = hit.WebhookId, ["webhook-timestamp"] = hit.Timestamp, ["webhook-signature"] = hit.Signature });
    }

    [Fact]
    public async Task An_organizations_path_hashing_key_is_re_sealed_so_paths_hash_the_same_after_the_key_changes()
    {
        // A database of its own: the class's other test counts what a rotation did.
        var deployment = new ServiceFactory();
        await deployment.InitializeAsync();
        try
        {
            await HashesSurviveRotationAsync(deployment);
        }
        finally
        {
            await ((IAsyncLifetime)deployment).DisposeAsync();
        }
    }

    private static async Task HashesSurviveRotationAsync(ServiceFactory factory)
    {
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync("Hashed");
        await Identity.EnsureAsync(await owner.Client.PutAsJsonAsync(Privacy.UpdatePrivacyPolicyTests.Url(orgId), Privacy.UpdatePrivacyPolicyTests.Body("hash_dirs")),
            HttpStatusCode.OK);
        async Task<string> StoredAsync(HttpClient client, string name)
        {
            await Identity.EnsureAsync(await client.PostAsJsonAsync($"/api/v1/orgs/{orgId}/events", new
            {
                events = new[] { new { type = "file_opened", occurredAt = DateTimeOffset.UtcNow.ToString("O"), path = $"/home/ana/proj/{name}" } },
            }), HttpStatusCode.Created);
            var page = await client.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/events?pathPrefix={Uri.EscapeDataString($"/home/ana/proj/{name}")}");
            var path = page.GetProperty("items")[0].GetProperty("path").GetString()!;
            return path[..path.LastIndexOf('/')];
        }
        var before = await StoredAsync(owner.Client, "before.txt");

        var rotated = await RunAsync(factory, "secrets", "rotate");

        Assert.Equal(0, rotated.Exit);
        Assert.Matches(@"and [1-9]\d* privacy path keys", rotated.Out);
        Assert.Equal(SecretBox.IdOf(NewKey), await factory.ScalarAsync<string>("SELECT path_key_id FROM privacy_policies WHERE org_id = $1", orgId));
        await using var rotatedInstance = await factory.AnotherInstanceAsync();
        rotatedInstance.Settings["Encryption:Key"] = NewKey;
        Assert.Equal(before, await StoredAsync(rotatedInstance.ClientWithToken(owner.AccessToken), "after.txt"));
    }

    [Fact]
    public async Task A_row_under_an_unknown_key_is_reported_and_the_exit_code_says_so()
    {
        // A database of its own: the rotation is global, and this row must not fail the other test's run.
        await using var factory = new ServiceFactory();
        await ((IAsyncLifetime)factory).InitializeAsync();
        var owner = await factory.SignUpAsync();
        var orgId = await owner.CreateOrgAsync();
        var integration = await owner.CreateWebhookAsync(orgId, "http://127.0.0.1:9/");
        await using (var dataSource = TestDatabases.OpenDataSource(factory.DatabaseName))
        {
            await dataSource.CreateCommand($"UPDATE integrations SET secret_key_id = 'kforgotten0000', secrets = '\\x010e6b666f72676f7474656e30303030' || secrets WHERE id = '{integration.Id}'").ExecuteNonQueryAsync();
        }

        var run = await RunAsync(factory, "secrets", "rotate");
        await ((IAsyncLifetime)factory).DisposeAsync();

        Assert.Equal(1, run.Exit);
        Assert.Contains(integration.Id.ToString(), run.Err);
        Assert.Contains("kforgotten0000", run.Err);
    }
}
