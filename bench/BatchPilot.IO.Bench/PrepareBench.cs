using System.Diagnostics;
using BatchPilot.Inputs;
using BatchPilot.Jobs;
using BatchPilot.Planning;
using BatchPilot.Providers;
using BatchPilot.Providers.OpenAI;

namespace BatchPilot.IO.Bench;

/// <summary>
/// Request preparation, as the engine does it between the input file and the provider, less the store: the table read
/// by <see cref="TableReader"/>, each row's request built by <see cref="RequestFactory"/> (the prompt template rendered),
/// measured with the provider client's <see cref="IBatchClient.MeasureRequest"/> to cut batches at the provider's
/// limits (as planning does), and written by the provider's own request file writer: OpenAI's batch input JSONL (what
/// <c>StageAsync</c> writes before uploading it), Anthropic's batch body (its <c>StageAsync</c>, which only writes a file).
/// </summary>
internal static class PrepareBench
{
    /// <summary>The plain template: <c>examples/classify-review.txt</c>, placeholders only (the fast literal path).</summary>
    public const string PlainTemplate = """"
        You are labelling customer reviews for a product team.

        Product: {{product}}
        Star rating: {{rating}} out of 5
        Review:
        """
        {{review_text}}
        """

        Classify the sentiment of the review as exactly one of: positive, neutral, negative.
        Judge the text itself; use the star rating only to break a tie. The review may be in any language.

        Answer with one line of JSON and nothing else, with the reason in English:
        {"sentiment": "positive|neutral|negative", "reason": "<one sentence>"}
        """";

    /// <summary>The same prompt through Fluid: filters, a condition and the <c>row</c> object.</summary>
    public const string LiquidTemplate = """"
        You are labelling customer reviews for a product team.

        Product: {{ product | upcase }}
        Star rating: {{ rating }} out of 5{% if rating == "1" or rating == "5" %} (an extreme rating: check it against the text){% endif %}
        Review:
        """
        {{ review_text | strip | truncate: 400 }}
        """

        Classify the sentiment of the review as exactly one of: positive, neutral, negative.
        Judge the text itself; use the star rating only to break a tie. The review may be in any language.

        Answer with one line of JSON and nothing else, with the reason in English (review {{ row["review_id"] }}):
        {"sentiment": "positive|neutral|negative", "reason": "<one sentence>"}
        """";

    /// <summary>Reads the table only (every value touched): the reader's own figure.</summary>
    public static Result Read(string input)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        long rows = 0;
        long chars = 0;
        using (var reader = TableReader.Open(input, TableReadOptions.Default))
        {
            foreach (var row in reader.ReadRows())
            {
                rows++;
                foreach (var v in row.Values)
                {
                    chars += v?.Length ?? 0;
                }
            }
        }

        sw.Stop();
        if (chars == 0)
        {
            throw new InvalidOperationException("the table read as empty");
        }

        return new Result(rows, sw.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds, 0, 0);
    }

    /// <summary>Reads, renders, measures and writes every row's request into batch files under <paramref name="outDir"/>.</summary>
    public static async Task<Result> PrepareAsync(string input, string template, string provider, string outDir)
    {
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        var spec = new JobSpec
        {
            InputPath = input,
            InputSha256 = "bench",
            Provider = provider,
            Model = provider == ProviderNames.Anthropic ? "claude-haiku-4-5" : "gpt-4o-mini",
            Prompt = template == "liquid" ? LiquidTemplate : PlainTemplate,
            MaxTokens = 200,
            Endpoint = "bench",
        };

        // The client is never called over HTTP here: it sizes requests and (Anthropic) writes the batch body locally.
        using var client = BatchClients.Create(new BatchClientOptions
        {
            Provider = provider,
            BaseUrl = new Uri("http://127.0.0.1:9/v1"),
            ApiKey = "bench-not-a-key",
            SpoolDirectory = outDir,
        });
        long files = 0;
        var state = new CutState();
        using (var reader = TableReader.Open(input, TableReadOptions.Default))
        {
            var factory = new RequestFactory(spec, reader.Columns, input);
            using var rows = reader.ReadRows().GetEnumerator();
            state.Rows = rows;
            while (!state.Done || state.Carried is not null)
            {
                var requests = NextBatch(state, factory, client).ToAsyncEnumerable();
                files++;
                if (provider == ProviderNames.Anthropic)
                {
                    // Count is not read by the file writer; the engine knows it from planning.
                    await client.StageAsync(new BatchStaging { Token = "batch-" + files, Count = 0, Requests = requests });
                }
                else
                {
                    await OpenAIBatchClient.WriteRequestFileAsync(Path.Combine(outDir, $"batch-{files}.jsonl"), requests, OpenAIBatchClient.ChatEndpoint, CancellationToken.None);
                }
            }
        }

        sw.Stop();
        var bytes = Directory.EnumerateFiles(outDir).Sum(f => new FileInfo(f).Length);
        return new Result(state.Total, sw.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds, bytes, files);
    }

    /// <summary>The requests of the next batch: rows until one more would pass the provider's request count or byte limit.</summary>
    private static IEnumerable<IdentifiedRequest> NextBatch(CutState state, RequestFactory factory, IBatchClient client)
    {
        var limits = client.Limits;
        var count = 0;
        long bytes = 0;
        if (state.Carried is { } carried)
        {
            state.Carried = null;
            count = 1;
            bytes = state.CarriedSize;
            yield return carried;
        }

        while (state.Rows!.MoveNext())
        {
            var row = state.Rows.Current;
            var request = new IdentifiedRequest("row-" + row.Index, factory.Create(row.Values));
            var size = client.MeasureRequest(request);
            state.Total++;
            if (count > 0 && (count >= limits.MaxRequests || bytes + size > limits.MaxBytes))
            {
                state.Carried = request;
                state.CarriedSize = size;
                yield break;
            }

            count++;
            bytes += size;
            yield return request;
        }

        state.Done = true;
    }

    private sealed class CutState
    {
        public IEnumerator<TableRow>? Rows { get; set; }

        public IdentifiedRequest? Carried { get; set; }

        public int CarriedSize { get; set; }

        public long Total { get; set; }

        public bool Done { get; set; }
    }
}

/// <summary>What a child process measured: rows, wall and CPU seconds of the timed part, bytes and files written.</summary>
internal sealed record Result(long Rows, double Seconds, double CpuSeconds, long OutBytes, long Files);
