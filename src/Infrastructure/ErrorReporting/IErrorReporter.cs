namespace Service.Infrastructure.ErrorReporting;

/// <summary>
/// Where errors go for operators. Today: the Sentry envelope protocol spoken directly (the SDK is not in the
/// registry); replacing this one registration is all the SDK would need.
/// </summary>
public interface IErrorReporter
{
    /// <summary>
    /// Reports an exception with the ambient request (if any), its breadcrumbs and trace. Never blocks and never
    /// throws; the same exception object is reported once.
    /// </summary>
    /// <param name="handled">False for exceptions nothing caught (they became a 500).</param>
    void Capture(Exception exception, bool handled, string? message = null, string? logger = null);
}
