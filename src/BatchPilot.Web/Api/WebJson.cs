using System.Text.Json.Serialization;
using BatchPilot.Batches;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Operations;
using BatchPilot.Pricing;
using BatchPilot.Web.Data;

namespace BatchPilot.Web.Api;

/// <summary>A job as the API returns it.</summary>
internal sealed record JobDto
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Provider { get; init; }
    public required string Model { get; init; }
    public required string Mode { get; init; }
    public required string Endpoint { get; init; }
    public required string Status { get; init; }
    public required long Total { get; init; }
    public required long Succeeded { get; init; }
    public required long Failed { get; init; }
    public required long Expired { get; init; }
    public required long Cancelled { get; init; }
    public required long Pending { get; init; }
    public required long InBatch { get; init; }
    public required double Progress { get; init; }
    public double? EtaSeconds { get; init; }
    public required long InputTokens { get; init; }
    public required long OutputTokens { get; init; }
    public decimal? CostUsd { get; init; }
    public decimal? EstimatedCostUsd { get; init; }

    /// <summary>Succeeded items answered from the response cache (nothing sent, no cost).</summary>
    public long FromCache { get; init; }

    /// <summary>The job's budget (USD), if any.</summary>
    public decimal? BudgetUsd { get; init; }

    /// <summary><c>table</c> for a job from a table, <c>raw</c> for one from a ready batch file (<c>submit-file</c>).</summary>
    public required string Kind { get; init; }

    /// <summary>The comparison group (<c>grp-…</c>) of the job, if any, and its variant label there.</summary>
    public string? Group { get; init; }
    public string? Variant { get; init; }
    public required int Batches { get; init; }
    public required int ActiveBatches { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public DateTimeOffset? CompletedAt { get; init; }
    public required string Url { get; init; }

    public static JobDto Of(JobSummary s, CostEstimate? estimate, DateTimeOffset now) => new()
    {
        Id = s.Id,
        Name = s.Job.Name,
        Provider = s.Job.Spec.Provider,
        Model = s.Job.Spec.Model,
        Mode = s.Job.Spec.Mode.ToString().ToLowerInvariant(),
        Endpoint = Pages.Html.SafeEndpoint(s.Job.Spec.Endpoint),
        Status = s.Job.Status.ToString(),
        Total = s.Total,
        Succeeded = s.Counts.Succeeded,
        Failed = s.Counts.Failed,
        Expired = s.Counts.Expired,
        Cancelled = s.Counts.Cancelled,
        Pending = s.Counts.Pending,
        InBatch = s.Counts.InBatch,
        Progress = Math.Round(s.Progress, 4),
        EtaSeconds = s.Eta(now) is { } eta ? Math.Round(eta.TotalSeconds) : null,
        InputTokens = s.Counts.InputTokens,
        OutputTokens = s.Counts.OutputTokens,
        CostUsd = s.CostUsd is { } c ? Math.Round(c, 6) : null,
        EstimatedCostUsd = JobSummary.EstimatedCost(s.Job, estimate) is { } e ? Math.Round(e, 6) : null,
        FromCache = s.Counts.FromCache,
        BudgetUsd = s.Job.BudgetUsd,
        Kind = s.Job.Spec.Kind.ToString().ToLowerInvariant(),
        Group = s.Group?.Id,
        Variant = s.Group?.Label,
        Batches = s.Batches,
        ActiveBatches = s.ActiveBatches,
        CreatedAt = s.Job.CreatedAt,
        UpdatedAt = s.Job.UpdatedAt,
        CompletedAt = s.Job.CompletedAt,
        Url = "/jobs/" + Uri.EscapeDataString(s.Id),
    };
}

/// <summary>A page of the job list.</summary>
internal sealed record JobListDto(int Total, int Page, int Size, int Pages, long Version, IReadOnlyList<JobDto> Jobs);

/// <summary>A provider batch of a job.</summary>
internal sealed record BatchDto
{
    public required int Number { get; init; }
    public required string State { get; init; }
    public string? ProviderBatchId { get; init; }
    public string? ProviderStatus { get; init; }
    public required int Requests { get; init; }
    public required int Done { get; init; }
    public required int Failed { get; init; }
    public required int Attempt { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? SubmittedAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public DateTimeOffset? CollectedAt { get; init; }
    public string? Errors { get; init; }

    public static BatchDto Of(BatchRecord b) => new()
    {
        Number = b.Number,
        State = b.State.ToString(),
        ProviderBatchId = b.ProviderBatchId,
        ProviderStatus = b.ProviderStatus,
        Requests = b.RequestCount,
        Done = b.State == BatchState.Collected ? b.RequestCount - b.FailedCount : b.DoneCount,
        Failed = b.FailedCount,
        Attempt = b.Resubmits + 1,
        CreatedAt = b.CreatedAt,
        SubmittedAt = b.SubmittedAt,
        EndedAt = b.EndedAt,
        CollectedAt = b.CollectedAt,
        Errors = b.Errors,
    };
}

/// <summary>A cost estimate.</summary>
internal sealed record EstimateDto(long Items, long InputTokens, long OutputTokens, int OutputTokensPerItem, decimal? BatchCostUsd, decimal? SyncCostUsd, string Basis)
{
    public static EstimateDto? Of(CostEstimate? e) => e is null ? null
        : new(e.Items, e.InputTokens, e.OutputTokens, e.OutputTokensPerItem, e.BatchCostUsd is { } b ? Math.Round(b, 6) : null, e.SyncCostUsd is { } s ? Math.Round(s, 6) : null, e.Basis);
}

/// <summary>One line of a job's activity.</summary>
internal sealed record ActivityDto(DateTimeOffset At, string Message, bool Warning);

/// <summary>A job with its batches.</summary>
internal sealed record JobDetailDto(JobDto Job, IReadOnlyList<BatchDto> BatchList, EstimateDto? Estimate, IReadOnlyList<ActivityDto> Activity, bool Busy, BudgetDto? Budget = null);

/// <summary>One item.</summary>
internal sealed record ItemDto
{
    public required long Seq { get; init; }
    public required string CustomId { get; init; }
    public required long SourceRow { get; init; }
    public required string Status { get; init; }
    public required int Attempt { get; init; }
    public string? Prompt { get; init; }
    public string? System { get; init; }
    public string? Response { get; init; }
    public long? InputTokens { get; init; }
    public long? OutputTokens { get; init; }
    public decimal? CostUsd { get; init; }
    public string? ErrorCode { get; init; }
    public string? ErrorMessage { get; init; }

    public static ItemDto Of(ItemRecord i, JobRecord job, Planning.RequestFactory? factory, PriceTable prices) => new()
    {
        Seq = i.Seq,
        CustomId = i.CustomId,
        SourceRow = i.SourceRow,
        Status = Exports.JobExporter.StatusName(i.Status),
        Attempt = i.Attempt,
        Prompt = factory?.Create(i.Values).UserText,
        System = factory?.Create(i.Values).System,
        Response = i.ResultText,
        InputTokens = i.Usage?.InputTokens,
        OutputTokens = i.Usage?.OutputTokens,
        CostUsd = i.Usage is { } u && prices.Cost(job.Spec.Model, u, job.Spec.Mode == JobMode.Batch) is { } c ? Math.Round(c, 8) : null,
        ErrorCode = i.ErrorCode,
        ErrorMessage = i.ErrorMessage,
    };
}

/// <summary>A page of items; pass <see cref="NextAfter"/> as <c>after</c> for the next one.</summary>
internal sealed record ItemPageDto(IReadOnlyList<ItemDto> Items, long? NextAfter);

/// <summary>What an action did.</summary>
internal sealed record ActionDto(string Job, string Action, string Result, long? Count = null, string? Message = null);

/// <summary>An uploaded (or picked) input file and what it holds.</summary>
internal sealed record UploadDto(string Input, string Name, string Format, IReadOnlyList<string> Columns);

/// <summary>A new job, as the API takes it.</summary>
internal sealed record CreateJobDto
{
    public string? Input { get; init; }
    public string? Name { get; init; }
    public string? Model { get; init; }
    public string? Provider { get; init; }
    public string? Mode { get; init; }
    public string? Prompt { get; init; }
    public string? System { get; init; }
    public int? MaxTokens { get; init; }
    public double? Temperature { get; init; }
    public string? IdColumn { get; init; }
    public long? StartRow { get; init; }
    public long? EndRow { get; init; }
    public decimal? BudgetUsd { get; init; }

    /// <summary>Send every request, even one answered before (<c>--no-cache</c>).</summary>
    public bool NoCache { get; init; }

    /// <summary>The column (or comma list of columns) whose cells name an image sent with the row (<c>--image-column</c>).</summary>
    public string? ImageColumns { get; init; }

    /// <summary>Rows whose image cannot be sent are skipped instead of failed (<c>--skip-missing-images</c>).</summary>
    public bool SkipMissingImages { get; init; }

    /// <summary>The JSON schema every answer must follow, as text (<c>--json-schema</c>).</summary>
    public string? JsonSchema { get; init; }

    /// <summary>The OpenAI API: <c>chat</c> (the default) or <c>responses</c> (<c>--api</c>).</summary>
    public string? Api { get; init; }
    public bool New { get; init; }
    public long? RequestsPerMinute { get; init; }
    public long? TokensPerMinute { get; init; }
    public int? Concurrency { get; init; }
}

/// <summary>A new budget for a job (null removes it).</summary>
internal sealed record BudgetRequestDto
{
    public decimal? BudgetUsd { get; init; }
}

/// <summary>
/// A job's budget: the amount, what counts against it (actual plus reserved), why a batch is held back, and the
/// smallest job budget that lets the held batch go (a job budget's stop only).
/// </summary>
internal sealed record BudgetDto(decimal? BudgetUsd, decimal? UsedUsd, decimal? ReservedUsd, decimal? DailyBudgetUsd, string? Stop, decimal? SuggestedBudgetUsd = null);

/// <summary>One rendered request of the preview.</summary>
internal sealed record PreviewRequestDto(long Row, string CustomId, string? System, string User);

/// <summary>The preview of a new job.</summary>
internal sealed record PreviewDto(IReadOnlyList<string> Columns, string Provider, IReadOnlyList<PreviewRequestDto> Requests, EstimateDto? Estimate, string? Error, string? Warning);

/// <summary>The anti-forgery token.</summary>
internal sealed record CsrfDto(string Token, string Header, string Field);

/// <summary>An error.</summary>
internal sealed record ErrorDto(string Error);

/// <summary>Totals and chart data.</summary>
internal sealed record StatsDto(int Jobs, int Active, long Items, decimal CostUsd, IReadOnlyList<LabelValueDto> CostByModel, IReadOnlyList<LabelValueDto> CostByDay);

/// <summary>A labelled value.</summary>
internal sealed record LabelValueDto(string Label, decimal Value);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never, UseStringEnumConverter = true)]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(JobDto))]
[JsonSerializable(typeof(JobListDto))]
[JsonSerializable(typeof(JobDetailDto))]
[JsonSerializable(typeof(ItemPageDto))]
[JsonSerializable(typeof(ActionDto))]
[JsonSerializable(typeof(List<ActionDto>))]
[JsonSerializable(typeof(UploadDto))]
[JsonSerializable(typeof(CreateJobDto))]
[JsonSerializable(typeof(BudgetRequestDto))]
[JsonSerializable(typeof(PreviewDto))]
[JsonSerializable(typeof(CsrfDto))]
[JsonSerializable(typeof(ErrorDto))]
[JsonSerializable(typeof(StatsDto))]
[JsonSerializable(typeof(DiagnosisReport))]
internal sealed partial class WebJson : JsonSerializerContext;
