namespace BatchPilot.Errors;

/// <summary>Process exit codes of the <c>batchpilot</c> tool. Listed in the README.</summary>
public static class ExitCodes
{
    /// <summary>Everything succeeded.</summary>
    public const int Success = 0;

    /// <summary>The job ended but some items failed, expired or were cancelled.</summary>
    public const int ItemsFailed = 1;

    /// <summary>Bad input: a file, flag or configuration value the user must fix.</summary>
    public const int BadInput = 2;

    /// <summary>A missing or rejected API key.</summary>
    public const int MissingKey = 3;

    /// <summary>The provider could not be reached or kept failing after retries.</summary>
    public const int ProviderError = 4;

    /// <summary>The job store could not be opened or written.</summary>
    public const int StoreError = 5;

    /// <summary>The job is still running (after <c>--detach</c>, or when <c>status</c> finds work in flight).</summary>
    public const int Pending = 6;

    /// <summary>A job or batch was not found.</summary>
    public const int NotFound = 7;

    /// <summary>
    /// Submission stopped because the next batch would pass the job's budget or the daily budget: nothing more was
    /// sent, the remaining items stay pending, and a rerun with a higher budget (or <c>resume</c>) continues.
    /// </summary>
    public const int BudgetExceeded = 8;

    /// <summary>Interrupted by Ctrl+C; state is saved and a rerun continues.</summary>
    public const int Cancelled = 130;

    /// <summary>An unexpected internal error (a bug): run with --verbose and report it.</summary>
    public const int InternalError = 70;
}
