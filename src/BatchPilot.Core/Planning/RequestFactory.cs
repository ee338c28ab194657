using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;

namespace BatchPilot.Planning;

/// <summary>Builds the provider-neutral request of an item from the job's templates. Pure and deterministic.</summary>
public sealed class RequestFactory
{
    private readonly JobSpec _spec;
    private readonly PromptTemplate _prompt;
    private readonly PromptTemplate? _system;
    private readonly ChatTurn[] _priorTurns;
    private readonly long _priorLength;
    private readonly int _rawBody = -1;

    /// <summary>Compiles the job's templates.</summary>
    public RequestFactory(JobSpec spec, IReadOnlyList<string> columns, string? inputName = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        _spec = spec;
        _prompt = PromptTemplate.Compile(spec.Prompt, columns, "--prompt", inputName);
        _system = spec.System is null ? null : PromptTemplate.Compile(spec.System, columns, "--system", inputName);
        _priorTurns = [.. spec.Examples.SelectMany(e => new[] { new ChatTurn(ChatTurn.User, e.Input), new ChatTurn(ChatTurn.Assistant, e.Output) })];
        _priorLength = _priorTurns.Sum(t => (long)t.Text.Length + 32);
        if (spec.Kind == JobKind.Raw)
        {
            // A raw job's item carries its request body verbatim; its (empty) prompt is never rendered.
            _rawBody = columns.ToList().IndexOf(JobSpec.RawColumns[1]);
            if (_rawBody < 0)
            {
                throw new ArgumentException("a raw job's columns must include 'body'", nameof(columns));
            }
        }
    }

    /// <summary>The request for a row.</summary>
    public LlmRequest Create(IReadOnlyList<string?> values) => _rawBody >= 0 ? CreateRaw(values) : new()
    {
        Model = _spec.Model,
        System = _system?.Render(values),
        PriorTurns = _priorTurns,
        UserText = _prompt.Render(values),
        MaxTokens = _spec.MaxTokens,
        Temperature = _spec.Temperature,
    };

    private LlmRequest CreateRaw(IReadOnlyList<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new LlmRequest { Model = _spec.Model, UserText = string.Empty, RawBody = values[_rawBody] };
    }

    /// <summary>The request of an item with its custom id.</summary>
    public IdentifiedRequest Create(ItemRecord item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return new IdentifiedRequest(item.CustomId, Create(item.Values));
    }

    /// <summary>An upper bound of the rendered text length of a row.</summary>
    public long LengthBound(IReadOnlyList<string?> values) =>
        _rawBody >= 0
            ? values[_rawBody]?.Length ?? 0
            : _prompt.RenderedLengthBound(values) + (_system?.RenderedLengthBound(values) ?? 0) + _priorLength;
}
