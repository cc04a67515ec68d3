using Service.Infrastructure.Privacy;

namespace Service.Tests.Infrastructure.Privacy;

/// <summary>The compiled policy on its own: path forms, exclusions and metadata removal, without a database.</summary>
public sealed class PrivacyPolicyTests
{
    private static readonly byte[] KeyA = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
    private static readonly byte[] KeyB = Enumerable.Range(0, 32).Select(i => (byte)(i + 1)).ToArray();
    private static readonly DateTime Now = new(2026, 11, 27, 12, 0, 0, DateTimeKind.Utc);

    private static PrivacyPolicy Policy(string mode, bool hashNames = false, string[]? globs = null, string[]? keys = null, int? retention = null, byte[]? key = null) =>
        new(new PrivacySettings(mode, hashNames, globs ?? PrivacySettings.DefaultExcludeGlobs, keys ?? PrivacySettings.DefaultDropMetadataKeys, retention, "delete"), 1, key ?? KeyA);

    [Theory]
    [InlineData("/home/ana/proj/app.py", "~/proj/app.py")]
    [InlineData("/home/ana", "~")]
    [InlineData("/Users/ana/Documents/q3.xlsx", "~/Documents/q3.xlsx")]
    [InlineData("/root/.bashrc", "~/.bashrc")]
    [InlineData(@"C:\Users\ana\proj\app.py", "~/proj/app.py")]
    [InlineData(@"c:\users\Ana\notes.txt", "~/notes.txt")]
    [InlineData("D:/Documents and Settings/ana/x.doc", "~/x.doc")]
    [InlineData("/srv/shared/ana/app.py", "/srv/shared/ana/app.py")]
    [InlineData("/homework/ana/app.py", "/homework/ana/app.py")]
    public void Home_turns_a_home_directory_prefix_into_a_tilde(string path, string stored) =>
        Assert.Equal(stored, Policy(PathModes.Home).StoredPath(path));

    [Fact]
    public void Hash_dirs_hides_every_directory_keeps_the_name_and_is_stable_within_an_organization_only()
    {
        var policy = Policy(PathModes.HashDirs);
        var stored = policy.StoredPath("/home/ana/proj/app.py");
        var segments = stored.Split('/');
        Assert.Equal(5, segments.Length);
        Assert.Equal("", segments[0]);
        Assert.All(segments[1..4], s => Assert.Matches("^#[0-9a-f]{16}$", s));
        Assert.Equal("app.py", segments[4]);
        Assert.DoesNotContain("ana", stored);
        Assert.Equal(stored, Policy(PathModes.HashDirs).StoredPath("/home/ana/proj/app.py"));
        Assert.Equal(segments[1..4], Policy(PathModes.HashDirs).StoredPath("/home/ana/proj/other.md").Split('/')[1..4]);
        Assert.NotEqual(stored, Policy(PathModes.HashDirs, key: KeyB).StoredPath("/home/ana/proj/app.py"));
        // Windows separators are kept; a drive is a directory like any other.
        Assert.Matches(@"^#[0-9a-f]{16}\\#[0-9a-f]{16}\\report\.docx$", policy.StoredPath(@"C:\Users\report.docx"));
    }

    [Fact]
    public void Hash_file_names_hashes_the_stem_and_keeps_the_extension()
    {
        var policy = Policy(PathModes.HashDirs, hashNames: true);
        Assert.Matches("^/#[0-9a-f]{16}/#[0-9a-f]{16}\\.py$", policy.StoredPath("/proj/app.py"));
        Assert.Matches("^/#[0-9a-f]{16}/#[0-9a-f]{16}$", policy.StoredPath("/proj/.bashrc"));
        Assert.Equal(policy.StoredPath("/proj/app.py"), policy.StoredPath("/proj/app.py"));
    }

    [Fact]
    public void A_stored_path_rewritten_again_stays_the_same_so_it_works_as_a_prefix()
    {
        foreach (var policy in new[] { Policy(PathModes.Home), Policy(PathModes.HashDirs), Policy(PathModes.HashDirs, hashNames: true) })
        {
            var stored = policy.StoredPath("/home/ana/proj/src/app.py");
            Assert.Equal(stored, policy.StoredPath(stored));
            var directory = stored[..(stored.LastIndexOf('/') + 1)];
            Assert.Equal(directory, policy.StoredPath("/home/ana/proj/src/"));
        }
    }

    [Theory]
    [InlineData("/home/ana/.ssh/id_rsa", true)]
    [InlineData("/home/ana/.SSH/config", true)]
    [InlineData(@"C:\Users\ana\.ssh\known_hosts", true)]
    [InlineData("/home/ana/.gnupg/pubring.kbx", true)]
    [InlineData("/etc/tls/server.pem", true)]
    [InlineData("/srv/app/server.KEY", true)]
    [InlineData("/srv/app/.env", true)]
    [InlineData("/srv/app/.env.production", true)]
    [InlineData(".env", true)]
    [InlineData("/srv/app/environment.md", false)]
    [InlineData("/srv/app/keys.txt", false)]
    [InlineData("/home/ana/ssh/notes.md", false)]
    public void The_default_exclusions_drop_keys_and_secrets_wherever_they_are(string path, bool excluded) =>
        Assert.Equal(excluded, Policy(PathModes.Keep).Excludes(path, Now, Now));

    [Fact]
    public void A_glob_without_a_slash_matches_the_file_name_in_any_directory_and_retention_excludes_old_events()
    {
        var policy = Policy(PathModes.Keep, globs: ["*.tmp", "/srv/private/**"], retention: 7);
        Assert.True(policy.Excludes("/a/b/c.TMP", Now, Now));
        Assert.True(policy.Excludes("/srv/private/x/y.txt", Now, Now));
        Assert.False(policy.Excludes("/srv/public/y.txt", Now, Now));
        Assert.True(policy.Excludes("/srv/public/y.txt", Now.AddDays(-8), Now));
        Assert.False(policy.Excludes("/srv/public/y.txt", Now.AddDays(-6), Now));
    }

    [Theory]
    [InlineData("**/.ssh/**", null)]
    [InlineData("*.pem", null)]
    [InlineData(@"**\secrets\**", null)]
    [InlineData("", "A glob is required.")]
    [InlineData("**/[ab].txt", "Character classes")]
    [InlineData("**/*.{pem,key}", "Character classes")]
    [InlineData("a**/b", "'**' must be a whole path segment")]
    [InlineData("***/b", "'***' is not a pattern")]
    [InlineData("a\u0000b", "control characters")]
    public void Invalid_globs_are_named(string glob, string? problem)
    {
        var found = ExclusionGlobs.Problem(glob);
        if (problem is null) Assert.Null(found);
        else Assert.Contains(problem, found);
    }

    [Fact]
    public void Metadata_keys_are_removed_at_any_depth_by_name_ignoring_case_and_separators()
    {
        var policy = Policy(PathModes.Keep);
        var scrubbed = policy.StoredMetadata("""
            {"Password":"hunter2","nested":{"deeper":[{"API-KEY":"k-123","keep":1},{"github_token":"ghp_x"}],"accessToken":"t"},"tokenCount":3,"branch":"main"}
            """)!;
        using var document = JsonDocument.Parse(scrubbed);
        Assert.DoesNotContain("hunter2", scrubbed);
        Assert.DoesNotContain("k-123", scrubbed);
        Assert.DoesNotContain("ghp_x", scrubbed);
        Assert.False(document.RootElement.GetProperty("nested").TryGetProperty("accessToken", out _));
        Assert.Equal(1, document.RootElement.GetProperty("nested").GetProperty("deeper")[0].GetProperty("keep").GetInt32());
        Assert.Equal(3, document.RootElement.GetProperty("tokenCount").GetInt32());
        Assert.Equal("main", document.RootElement.GetProperty("branch").GetString());
        const string clean = """{"branch":"main","lines":[1,2]}""";
        Assert.Same(clean, policy.StoredMetadata(clean));
    }
}
