using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Providers;

namespace BatchPilot.Planning;

/// <summary>Builds the provider-neutral request of an item from the job's templates. Deterministic; image files are only probed (size, type), never read whole.</summary>
public sealed class RequestFactory
{
    private readonly JobSpec _spec;
    private readonly PromptTemplate _prompt;
    private readonly PromptTemplate? _system;
    private readonly ChatTurn[] _priorTurns;
    private readonly long _priorLength;
    private readonly int _rawBody = -1;
    private readonly ImageInputs _images;

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

        _images = ImageInputs.Create(spec.ImageColumns, spec.ImageFolders, spec.Provider, columns, inputName);
        Schema = AnswerSchema.ForJob(spec);
    }

    /// <summary>The schema answers must follow, if the job has one.</summary>
    public AnswerSchema? Schema { get; }

    /// <summary>True when rows carry images.</summary>
    public bool HasImages => _images.Any;

    /// <summary>Why the images of a row cannot be sent, or null when they can (or the job has none).</summary>
    /// <param name="values">The row's values.</param>
    /// <param name="row">The row number, for the message.</param>
    public ImageProblem? CheckImages(IReadOnlyList<string?> values, long? row = null) =>
        _images.Any ? _images.Resolve(values, row).Problem : null;

    /// <summary>The request for a row.</summary>
    public LlmRequest Create(IReadOnlyList<string?> values) => _rawBody >= 0 ? CreateRaw(values) : new()
    {
        Model = _spec.Model,
        System = _system?.Render(values),
        PriorTurns = _priorTurns,
        UserText = _prompt.Render(values),
        MaxTokens = _spec.MaxTokens,
        Temperature = _spec.Temperature,
        Images = _images.Any ? _images.Resolve(values).Images : [],
        ResponseFormat = Schema?.Format,
    };

    private LlmRequest CreateRaw(IReadOnlyList<string?> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        return new LlmRequest { Model = _spec.Model, UserText = string.Empty, RawBody = values[_rawBody] };
    }

    /// <summary>
    /// The request of an item about to be sent, or the problem of an image that became unusable after the item was
    /// checked (deleted or changed between planning and sending): such a request is never sent without its image.
    /// </summary>
    public (IdentifiedRequest Request, ImageProblem? Problem) CreateForSending(ItemRecord item)
    {
        ArgumentNullException.ThrowIfNull(item);
        if (!_images.Any)
        {
            return (Create(item), null);
        }

        var (images, problem) = _images.Resolve(item.Values, item.SourceRow);
        var request = new IdentifiedRequest(item.CustomId, Create(item.Values) with { Images = images });
        return (request, problem);
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
