using System.Reflection;
using System.Text.RegularExpressions;

namespace Service.Infrastructure.Database.Migrations;

/// <summary>The migrations this build knows, ordered by version.</summary>
public sealed partial class MigrationCatalog(IReadOnlyList<Migration> migrations)
{
    public IReadOnlyList<Migration> Migrations { get; } = migrations.OrderBy(m => m.Version).ToList();

    /// <summary>The .sql files embedded from src/Infrastructure/Database/Migrations (see Service.csproj).</summary>
    public static MigrationCatalog Embedded()
    {
        var assembly = typeof(MigrationCatalog).Assembly;
        var files = assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("Migrations/", StringComparison.Ordinal))
            .ToDictionary(n => n["Migrations/".Length..], n => Read(assembly, n));
        return FromFiles(files);
    }

    /// <summary>Builds a catalog from file name → content; rejects names that do not follow NNNN_name[.down].sql.</summary>
    public static MigrationCatalog FromFiles(IReadOnlyDictionary<string, string> files)
    {
        var ups = new Dictionary<long, (string Name, string Sql)>();
        var downs = new Dictionary<long, (string Name, string Sql)>();
        foreach (var (file, sql) in files)
        {
            var match = FileName().Match(file);
            if (!match.Success) throw new MigrationException($"migration file '{file}' is not named NNNN_name.sql or NNNN_name.down.sql.");
            var version = long.Parse(match.Groups["version"].Value);
            var target = match.Groups["down"].Success ? downs : ups;
            if (!target.TryAdd(version, (match.Groups["name"].Value, sql)))
            {
                throw new MigrationException($"two migration files share version {version}.");
            }
        }
        var orphan = downs.Keys.Except(ups.Keys).FirstOrDefault();
        if (orphan != 0) throw new MigrationException($"down script for version {orphan} has no up script.");
        return new MigrationCatalog(ups.Select(u => new Migration(u.Key, u.Value.Name, u.Value.Sql,
            downs.TryGetValue(u.Key, out var down) ? down.Sql : null)).ToList());
    }

    private static string Read(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [GeneratedRegex(@"^(?<version>\d{4,})_(?<name>[a-z0-9_]+?)(?<down>\.down)?\.sql$")]
    private static partial Regex FileName();
}
