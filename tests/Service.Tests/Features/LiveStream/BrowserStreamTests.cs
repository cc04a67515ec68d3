using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Playwright;
using Service.Tests.Fixtures;
using static Microsoft.Playwright.Assertions;

namespace Service.Tests.Features.LiveStream;

/// <summary>
/// A real browser (Debian's chromium, driven by Playwright) on a page served from another origin, as a frontend is:
/// it signs in, trades its token for a stream ticket, shows notifications arriving over EventSource, and uploads a
/// file straight to S3. This proves CORS on the API (the page's origin is allowed) and on the bucket.
/// </summary>
public sealed class BrowserStreamTests(BrowserStreamTests.Factory factory) : IClassFixture<BrowserStreamTests.Factory>
{
    public sealed class Factory : ServiceFactory, IAsyncLifetime
    {
        public WebApplication Frontend { get; private set; } = null!;
        public string FrontendOrigin { get; private set; } = "";
        public ServiceProcess Api { get; private set; } = null!;
        public string ApiUrl { get; private set; } = "";
        public IPlaywright Playwright { get; private set; } = null!;
        public IBrowser Browser { get; private set; } = null!;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var html = await File.ReadAllTextAsync(Path.Combine(TestServers.RepositoryRoot, "tests/Service.Tests/Fixtures/Browser/frontend.html"));
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            Frontend = builder.Build();
            Frontend.MapGet("/", () => Results.Content(html, "text/html"));
            await Frontend.StartAsync();
            FrontendOrigin = Frontend.Urls.Single();

            var apiPort = ServiceProcess.FreePort();
            ApiUrl = $"http://127.0.0.1:{apiPort}";
            var settings = BaseSettings();
            settings["Cors:Origins"] = FrontendOrigin;
            var environment = settings.ToDictionary(kv => kv.Key.Replace(":", "__"), kv => kv.Value ?? "");
            environment["ENVIRONMENT"] = "development";
            // The presigned URL must name the S3 server as the browser reaches it.
            Api = ServiceProcess.Start(environment, "--urls", ApiUrl);
            await Api.WaitForOutputAsync("Now listening", TimeSpan.FromSeconds(60));

            Playwright = await Microsoft.Playwright.Playwright.CreateAsync();
            Browser = await Playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = "/usr/bin/chromium", // Playwright cannot download its own browsers here
                Headless = true,
                Args = ["--no-sandbox"], // tests run as root
            });
        }

        public override async ValueTask DisposeAsync()
        {
            if (Browser is not null) await Browser.DisposeAsync();
            Playwright?.Dispose();
            if (Api is not null) await Api.DisposeAsync();
            if (Frontend is not null) await Frontend.DisposeAsync();
            await base.DisposeAsync();
        }
    }

    private HttpClient ApiClient(string? token = null)
    {
        var client = new HttpClient { BaseAddress = new Uri(factory.ApiUrl) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private async Task<(string Email, string Token)> RegisterAsync()
    {
        var email = Identity.NewEmail("browser");
        using var client = ApiClient();
        await Identity.EnsureAsync(await client.PostAsJsonAsync("/api/v1/auth/register", new { email, password = Identity.Password, displayName = "Browser User" }), HttpStatusCode.Created);
        var login = await client.PostAsJsonAsync("/api/v1/auth/login", new { email, password = Identity.Password });
        return (email, (await login.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!);
    }

    private async Task<IPage> SignedInPageAsync(string email)
    {
        var page = await factory.Browser.NewPageAsync();
        var failures = new List<string>();
        page.Console += (_, message) => { if (message.Type == "error") failures.Add(message.Text); };
        page.Response += (_, response) => { if (response.Status >= 400) failures.Add($"{response.Status} {response.Url}"); };
        await page.GotoAsync($"{factory.FrontendOrigin}/?api={Uri.EscapeDataString(factory.ApiUrl)}");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", Identity.Password);
        await page.ClickAsync("#sign-in-button");
        await Expect(page.Locator("#stream-status")).ToHaveTextAsync("open", new() { Timeout = 15_000 });
        Assert.Empty(failures);
        return page;
    }

    [Fact]
    public async Task A_signed_in_page_shows_a_notification_created_through_the_API_as_it_happens()
    {
        var (ownerEmail, ownerToken) = await RegisterAsync();
        var (email, _) = await RegisterAsync();
        var page = await SignedInPageAsync(email);

        using var owner = ApiClient(ownerToken);
        var org = await owner.PostAsJsonAsync("/api/v1/orgs", new { name = "Browser Co" });
        var orgId = (await org.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await Identity.EnsureAsync(await owner.PostAsJsonAsync($"/api/v1/orgs/{orgId}/members", new { email, role = "member" }), HttpStatusCode.Created);

        await Expect(page.Locator("#notifications li")).ToHaveTextAsync(["You were added to Browser Co"], new() { Timeout = 10_000 });
        Assert.NotEqual(ownerEmail, email);
    }

    [Fact]
    public async Task The_same_page_uploads_a_file_straight_to_the_bucket_and_completes_it()
    {
        var (email, token) = await RegisterAsync();
        using var user = ApiClient(token);
        var org = await user.PostAsJsonAsync("/api/v1/orgs", new { name = "Uploads Co" });
        var orgId = (await org.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var page = await SignedInPageAsync(email);

        await page.FillAsync("#org-id", orgId.ToString());
        await page.SetInputFilesAsync("#file", new FilePayload { Name = "notes.txt", MimeType = "text/plain", Buffer = "written in a browser\n"u8.ToArray() });
        await page.ClickAsync("#upload-button");
        await Expect(page.Locator("#upload-status")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^ready "), new() { Timeout = 15_000 });

        var uploadId = (await page.Locator("#upload-status").TextContentAsync())!.Split(' ')[1];
        var details = await user.GetFromJsonAsync<JsonElement>($"/api/v1/orgs/{orgId}/uploads/{uploadId}");
        Assert.Equal("direct", details.GetProperty("upload").GetProperty("transfer").GetString());
        Assert.Equal(21, details.GetProperty("upload").GetProperty("sizeBytes").GetInt64());
        // What the browser sent is what the bucket holds.
        Assert.Equal("written in a browser\n", await new HttpClient().GetStringAsync(details.GetProperty("downloadUrl").GetString()));
    }
}
