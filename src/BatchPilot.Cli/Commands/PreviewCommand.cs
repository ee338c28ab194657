using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using BatchPilot.Errors;
using BatchPilot.Inputs;
using BatchPilot.Jobs;
using BatchPilot.Planning;
using BatchPilot.Providers;
using BatchPilot.Providers.OpenAI;
using BatchPilot.Running;

namespace BatchPilot.Cli.Commands;

/// <summary>
/// <c>batchpilot preview INPUT</c>: the first rendered requests exactly as <c>run</c> would send them (the provider's
/// request body, pretty-printed). Needs no key, sends nothing, reads only the rows it shows.
/// </summary>
internal static class PreviewCommand
{
    public static readonly Option<int> Rows = new("--rows") { Description = "How many selected rows to show.", DefaultValueFactory = _ => 3 };
    public static readonly Option<string> PreviewModel = new("--model", "-m") { Description = "Model id; its provider decides the body shape.", DefaultValueFactory = _ => "gpt-4o-mini" };

    private static readonly JsonSerializerOptions Pretty = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create(JobCommands.Host host)
    {
        var cmd = new Command("preview", "Show the first requests of a run exactly as they will be sent (the provider's JSON body), with templates, examples and row selection applied. Needs no key and sends nothing.")
        {
            RunCommand.Input, PreviewModel, RunCommand.Prompt, RunCommand.PromptFile, RunCommand.System, RunCommand.Examples, RunCommand.Where, RunCommand.Limit,
            RunCommand.MaxTokens, RunCommand.Temperature, RunCommand.IdColumn, RunCommand.StartRow, RunCommand.EndRow, RunCommand.Provider,
            RunCommand.Delimiter, RunCommand.Encoding, RunCommand.InputFormat, Rows, InputOptions.ImageColumn, InputOptions.SkipMissingImages, InputOptions.JsonSchema,
        };
        cmd.SetAction((pr, ct) => host(pr, (ctx, token) => ExecuteAsync(pr, ctx, token), ct));
        return cmd;
    }

    private static async Task<int> ExecuteAsync(ParseResult pr, CliContext ctx, CancellationToken ct)
    {
        var inputArg = ctx.Resolve(pr.GetValue(RunCommand.Input)!);
        if (inputArg == "-")
        {
            throw new InputException("preview reads a file, not standard input", field: "INPUT", hint: "save the input to a file first");
        }

        var model = pr.GetValue(PreviewModel)!.Trim();
        if (model.Contains(',', StringComparison.Ordinal))
        {
            // A model id has no comma: this is a comparison's list, which preview does not show.
            throw new InputException($"'{model}' is a list of models; preview shows the requests of one", field: "--model",
                hint: "give one model (the requests of each model differ only by the provider's body shape)");
        }

        var prompt = pr.GetValue(RunCommand.Prompt);
        var promptFile = pr.GetValue(RunCommand.PromptFile);
        if (prompt is null == (promptFile is null))
        {
            throw new InputException("give exactly one of --prompt and --prompt-file", field: "--prompt", hint: "e.g. --prompt \"Classify: {{review_text}}\"");
        }

        if (promptFile is not null)
        {
            prompt = RunCommand.ReadTextFile(ctx.Resolve(promptFile), "--prompt-file");
        }

        var count = pr.GetValue(Rows);
        if (count < 1)
        {
            throw new InputException("must be at least 1", field: "--rows");
        }

        var selection = RunCommand.ReadSelection(pr, ctx);
        var provider = JobFlow.ProviderFor(ctx, model, pr.GetValue(RunCommand.Provider));
        var readOptions = new TableReadOptions { Delimiter = pr.GetValue(RunCommand.Delimiter), Encoding = pr.GetValue(RunCommand.Encoding), Format = pr.GetValue(RunCommand.InputFormat) };
        using var reader = TableReader.Open(inputArg, readOptions);
        var columns = reader.Columns;
        RunCommand.ValidateTemplates(prompt!, promptFile is null ? "--prompt" : "--prompt-file", pr.GetValue(RunCommand.System), columns, inputArg);
        var spec = new JobSpec
        {
            InputPath = inputArg,
            InputSha256 = string.Empty,
            Provider = provider,
            Model = model,
            Prompt = prompt!,
            System = pr.GetValue(RunCommand.System),
            MaxTokens = pr.GetValue(RunCommand.MaxTokens),
            Temperature = pr.GetValue(RunCommand.Temperature),
            IdColumn = pr.GetValue(RunCommand.IdColumn),
            StartRow = pr.GetValue(RunCommand.StartRow),
            EndRow = pr.GetValue(RunCommand.EndRow),
            Examples = selection.Examples,
            Where = selection.Where,
            Limit = selection.Limit,
            Endpoint = "preview",
        };
        spec = InputOptions.Apply(pr, ctx, spec, columns, inputArg);
        var factory = new RequestFactory(spec, columns, inputArg);
        var idIndex = spec.IdColumn is null ? -1 : columns.ToList().FindIndex(c => string.Equals(c, spec.IdColumn, StringComparison.Ordinal));
        if (spec.IdColumn is not null && idIndex < 0)
        {
            throw new InputException($"the id column '{spec.IdColumn}' is not in the input", file: inputArg, field: "--id-column", hint: "use one of: " + string.Join(", ", columns));
        }

        var rows = reader.ReadRows(ct).Select(r => new SourceRow(r.Index, r.Row, r.Values));
        var requests = new List<IdentifiedRequest>();
        var problems = new Dictionary<string, ImageProblem>(StringComparer.Ordinal);
        foreach (var row in JobIngest.Select(spec, columns, rows).Take(count))
        {
            var id = idIndex >= 0 && idIndex < row.Values.Length && row.Values[idIndex] is { } v ? v.Trim() : "row-" + row.Index.ToString(CultureInfo.InvariantCulture);
            if (factory.CheckImages(row.Values, row.Row) is { } problem)
            {
                // Shown as run would treat it: this row is not sent.
                problems[id] = problem;
            }

            requests.Add(new IdentifiedRequest(id, factory.Create(row.Values)));
        }

        var bodies = RenderBodies(provider, requests);
        if (ctx.Ui.Json)
        {
            // --json shows the bodies exactly as sent, base64 included.
            var array = new JsonArray();
            foreach (var (id, body) in bodies)
            {
                var entry = new JsonObject { ["custom_id"] = id, ["body"] = problems.ContainsKey(id) ? null : body };
                if (problems.TryGetValue(id, out var p))
                {
                    entry["not_sent"] = new JsonObject { ["code"] = spec.SkipMissingImages ? ImageProblem.SkippedCode : p.Code, ["message"] = p.Message };
                }

                array.Add(entry);
            }

            await ctx.Ui.StdOut.WriteLineAsync(array.ToJsonString(Pretty)).ConfigureAwait(false);
            await ctx.Ui.StdOut.FlushAsync(ct).ConfigureAwait(false);
            return ExitCodes.Success;
        }

        if (bodies.Count == 0)
        {
            ctx.Ui.Info("No rows selected.");
        }

        foreach (var (id, body) in bodies)
        {
            if (problems.TryGetValue(id, out var problem))
            {
                ctx.Ui.Line($"# {id} ({provider} / {model}): not sent, {(spec.SkipMissingImages ? "skipped" : "fails")} ({problem.Code}): {problem.Message}");
                continue;
            }

            ctx.Ui.Line($"# {id} ({provider} / {model})");
            ctx.Ui.Line(Abbreviate(body).ToJsonString(Pretty));
        }

        return ExitCodes.Success;
    }

    /// <summary>Base64 image data shortened for the terminal: <c>data:image/png;base64,iVBORw0KGgo…(12,345 bytes)</c>.</summary>
    internal static JsonNode Abbreviate(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                var isBase64Source = obj["type"] is JsonValue t && t.TryGetValue<string>(out var type) && type == "base64";
                foreach (var (name, value) in obj.ToList())
                {
                    if (value is JsonValue v && v.TryGetValue<string>(out var text))
                    {
                        var comma = text.IndexOf(";base64,", StringComparison.Ordinal);
                        if (text.StartsWith("data:", StringComparison.Ordinal) && comma > 0)
                        {
                            obj[name] = Shorten(text, comma + 8);
                        }
                        else if (isBase64Source && name == "data")
                        {
                            obj[name] = Shorten(text, 0);
                        }
                    }
                    else if (value is not null)
                    {
                        Abbreviate(value);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    if (item is not null)
                    {
                        Abbreviate(item);
                    }
                }

                break;
        }

        return node;
    }

    private static string Shorten(string text, int dataStart)
    {
        var data = text.AsSpan(dataStart);
        var padding = data.EndsWith("==") ? 2 : data.EndsWith("=") ? 1 : 0;
        var bytes = (long)data.Length / 4 * 3 - padding;
        var keep = Math.Min(data.Length, 12);
        return text[..(dataStart + keep)] + "…(" + bytes.ToString("N0", CultureInfo.InvariantCulture) + " bytes)";
    }

    /// <summary>Writes each body with the provider's own writer (the code a run uses) and parses it back for pretty-printing.</summary>
    private static List<(string Id, JsonNode Body)> RenderBodies(string provider, List<IdentifiedRequest> requests)
    {
        var result = new List<(string Id, JsonNode Body)>();
        foreach (var r in requests)
        {
            using var ms = new MemoryStream();
            using (var w = new Utf8JsonWriter(ms))
            {
                ProviderRequestBodies.Write(w, provider, r.Request);
            }

            result.Add((r.CustomId, JsonNode.Parse(ms.ToArray())!));
        }

        return result;
    }
}
