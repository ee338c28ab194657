using System.CommandLine;
using BatchPilot.Errors;
using BatchPilot.Jobs;
using BatchPilot.Planning;

namespace BatchPilot.Cli.Commands;

/// <summary>The vision and structured-output options shared by run, preview and estimate.</summary>
internal static class InputOptions
{
    public static readonly Option<string[]> ImageColumn = new("--image-column")
    {
        Description = "Column whose cell names an image to send with the row: an http(s) URL, a data: URL, or a local file (relative to the input's folder, then the working folder). Repeatable or a comma list; names with spaces work (\"Image Path\"). An empty cell sends no image.",
        AllowMultipleArgumentsPerToken = false,
    };

    public static readonly Option<bool> SkipMissingImages = new("--skip-missing-images")
    {
        Description = "Skip rows whose image is missing, unreadable, not PNG/JPEG/GIF/WebP or too large (status skipped in the output) instead of failing them.",
    };

    public static readonly Option<string?> JsonSchema = new("--json-schema")
    {
        Description = "JSON Schema file every answer must follow (OpenAI structured output, Anthropic forced tool); answers are validated and their top-level fields become output columns.",
    };

    /// <summary>The spec with the image and schema settings of the command line, checked against the input's columns.</summary>
    /// <exception cref="InputException">An image column is not in the input, or the schema file is unusable.</exception>
    public static JobSpec Apply(ParseResult pr, CliContext ctx, JobSpec spec, IReadOnlyList<string> columns, string inputArg)
    {
        ArgumentNullException.ThrowIfNull(pr);
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(spec);
        var imageColumns = pr.GetValue(ImageColumn) ?? [];
        var skip = pr.GetValue(SkipMissingImages);
        if (skip && imageColumns.Length == 0)
        {
            throw new InputException("--skip-missing-images needs --image-column", field: "--skip-missing-images", hint: "name the image column, e.g. --image-column \"Image Path\"");
        }

        if (imageColumns.Length > 0)
        {
            var names = ImageInputs.Create(imageColumns, [], spec.Provider, columns, inputArg).Columns;
            var working = Path.GetFullPath(ctx.Settings.WorkingDirectory);
            var folders = new List<string>();
            if (inputArg != "-")
            {
                folders.Add(Path.GetDirectoryName(Path.GetFullPath(ctx.Resolve(inputArg))) ?? working);
            }

            if (!folders.Contains(working, StringComparer.Ordinal))
            {
                folders.Add(working);
            }

            spec = spec with { ImageColumns = names, ImageFolders = folders, SkipMissingImages = skip };
        }

        if (pr.GetValue(JsonSchema) is { } schemaFile)
        {
            var text = RunCommand.ReadTextFile(ctx.Resolve(schemaFile), "--json-schema");
            var schema = AnswerSchema.Parse(text, schemaFile, spec.Provider);
            spec = spec with { JsonSchema = schema.Format.SchemaJson, JsonSchemaName = schema.Format.Name };
        }

        return spec;
    }
}
