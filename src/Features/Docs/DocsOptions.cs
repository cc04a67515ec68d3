namespace Service.Features.Docs;

public sealed class DocsOptions
{
    public const string Section = "Docs";

    /// <summary>The interactive API reference at /docs: on in Development unless set; off elsewhere unless set to true.</summary>
    public bool? Enabled { get; set; }
}
