using System.Globalization;
using System.Text;
using BatchPilot.Web.Api;
using BatchPilot.Web.Hosting;
using static BatchPilot.Web.Pages.Html;

namespace BatchPilot.Web.Pages;

/// <summary>The New job page (the seeds' "Génération"): input, prompt with live preview, model, mode, limits, budget, estimate.</summary>
internal static class NewJobPage
{
    public static readonly (string Name, string System, string Prompt)[] Templates =
    [
        ("Classify sentiment", "You are a precise classifier. Answer with one word.", "Classify the sentiment of this text as positive, negative or neutral:\n\n{{text}}"),
        ("Summarize", "You write short, faithful summaries.", "Summarize in two sentences:\n\n{{text}}"),
        ("Translate to French", "You are a professional translator.", "Translate into French, keeping the tone:\n\n{{text}}"),
        ("Extract keywords", "You answer with a comma-separated list.", "List the five most important keywords of:\n\n{{text}}"),
    ];

    public static string Render(DashboardState state, CreateJobDto? form, (string, bool)? flash)
    {
        form ??= new CreateJobDto();
        var o = state.Options;
        var sb = new StringBuilder();
        sb.Append("<div class=\"page-head\"><h1>New job</h1></div>");
        sb.Append("<form method=\"post\" action=\"/jobs\" enctype=\"multipart/form-data\" class=\"new-job\" id=\"new-job\" data-testid=\"new-job-form\">");
        sb.Append(Hidden(AccessGuard.CsrfField, state.Csrf));
        sb.Append("<div class=\"cols\"><div class=\"col\">");

        sb.Append("<fieldset><legend>1. Input table</legend>");
        sb.Append($"<input type=\"hidden\" name=\"input\" id=\"input-ref\" value=\"{E(form.Input)}\">");
        sb.Append($"<label>Upload a CSV or JSONL file (up to {N(state.Uploads.MaxBytes / 1024 / 1024)} MB) <input type=\"file\" name=\"file\" id=\"file\" accept=\".csv,.tsv,.txt,.jsonl,.ndjson,.json\" data-testid=\"file\"></label>");
        var files = state.Uploads.FolderFiles();
        if (files.Count > 0)
        {
            sb.Append("<label>or pick a file from the allowed folder <select id=\"folder-file\" data-testid=\"folder-file\"><option value=\"\">–</option>");
            foreach (var f in files)
            {
                sb.Append($"<option value=\"{E(f.Reference)}\"{(f.Reference == form.Input ? " selected" : string.Empty)}>{E(f.DisplayName)}</option>");
            }

            sb.Append("</select></label>");
        }
        else if (o.AllowedInputFolder is not null)
        {
            sb.Append("<p class=\"muted\">The allowed input folder has no CSV or JSONL file.</p>");
        }

        sb.Append("<p id=\"input-info\" class=\"muted\" data-testid=\"input-info\">").Append(form.Input is null ? "No file chosen yet." : "File chosen.").Append("</p>");
        sb.Append("<div id=\"columns\" class=\"columns\" data-testid=\"columns\"></div>");
        sb.Append("</fieldset>");

        sb.Append("<fieldset><legend>2. Prompt</legend>");
        sb.Append("<label>Start from a template <select id=\"template\"><option value=\"\">–</option>");
        for (var i = 0; i < Templates.Length; i++)
        {
            sb.Append($"<option value=\"{i}\" data-system=\"{E(Templates[i].System)}\" data-prompt=\"{E(Templates[i].Prompt)}\">{E(Templates[i].Name)}</option>");
        }

        sb.Append("</select></label>");
        sb.Append($"<label>System prompt (optional) <textarea name=\"system\" id=\"system\" rows=\"2\" data-testid=\"system\">{E(form.System)}</textarea></label>");
        sb.Append($"<label>Prompt template, with {{{{column}}}} placeholders <textarea name=\"prompt\" id=\"prompt\" rows=\"5\" required data-testid=\"prompt\">{E(form.Prompt)}</textarea></label>");
        sb.Append("</fieldset>");

        sb.Append("<fieldset><legend>3. Model and mode</legend>");
        sb.Append($"<label>Model <input name=\"model\" id=\"model\" list=\"models\" required value=\"{E(form.Model ?? o.SuggestedModels.FirstOrDefault())}\" data-testid=\"model\"></label><datalist id=\"models\">");
        foreach (var m in o.SuggestedModels)
        {
            sb.Append($"<option value=\"{E(m)}\">");
        }

        sb.Append("</datalist>");
        sb.Append("<label>Provider <select name=\"provider\" id=\"provider\"><option value=\"auto\">from the model name</option>");
        foreach (var p in BatchPilot.Providers.ProviderNames.All)
        {
            sb.Append($"<option{(form.Provider == p ? " selected" : string.Empty)}>{p}</option>");
        }

        sb.Append("</select></label>");
        sb.Append("<label>OpenAI API <select name=\"api\" id=\"api\" data-testid=\"api\"><option value=\"chat\">chat completions</option><option value=\"responses\"")
          .Append(string.Equals(form.Api, "responses", StringComparison.OrdinalIgnoreCase) ? " selected" : string.Empty).Append(">Responses API (OpenAI only)</option></select></label>");
        sb.Append("<p class=\"note\">OpenRouter (<code>vendor/model</code> ids) and Azure OpenAI (deployment names; its endpoint from <code>AZURE_OPENAI_ENDPOINT</code> or <code>base_urls.azure</code>) run in the synchronous mode only.</p>");
        var sync = string.Equals(form.Mode, "sync", StringComparison.OrdinalIgnoreCase) && state.Runner.CanSync;
        sb.Append("<div class=\"radio\" role=\"radiogroup\" aria-label=\"Mode\"><label><input type=\"radio\" name=\"mode\" value=\"batch\" data-testid=\"mode-batch\"").Append(sync ? string.Empty : " checked")
          .Append("> Batch API (half price, results within 24 h)</label>");
        if (state.Runner.CanSync)
        {
            sb.Append("<label><input type=\"radio\" name=\"mode\" value=\"sync\" data-testid=\"mode-sync\"").Append(sync ? " checked" : string.Empty)
              .Append("> Synchronous API (immediate, full price, rate-limited)</label></div>");
        }
        else
        {
            sb.Append("<label class=\"disabled\"><input type=\"radio\" name=\"mode\" value=\"sync\" disabled> Synchronous API</label></div>");
            sb.Append("<p class=\"note\">This dashboard was started without a synchronous client: jobs started here run through the Batch API.</p>");
        }

        sb.Append($"<label>Job name <input name=\"name\" id=\"name\" value=\"{E(form.Name)}\" placeholder=\"the file name\" data-testid=\"name\"></label>");
        sb.Append("</fieldset>");

        sb.Append("<fieldset><legend>4. Limits and budget</legend><div class=\"row\">");
        sb.Append(NumberField("max_tokens", "Max output tokens", form.MaxTokens?.ToString(CultureInfo.InvariantCulture), "1", null));
        sb.Append(NumberField("temperature", "Temperature", form.Temperature?.ToString(CultureInfo.InvariantCulture), "0", "0.1"));
        sb.Append(NumberField("start_row", "First row", form.StartRow?.ToString(CultureInfo.InvariantCulture), "1", null));
        sb.Append(NumberField("end_row", "Last row", form.EndRow?.ToString(CultureInfo.InvariantCulture), "1", null));
        sb.Append(NumberField("budget_usd", "Budget (USD)", form.BudgetUsd?.ToString(CultureInfo.InvariantCulture), "0", "any"));
        sb.Append("</div>");
        if (state.Runner.CanSync)
        {
            sb.Append("<div class=\"row sync-only\" data-testid=\"sync-limits\">");
            sb.Append(NumberField("requests_per_minute", "Sync: requests / min", form.RequestsPerMinute?.ToString(CultureInfo.InvariantCulture), "1", null));
            sb.Append(NumberField("tokens_per_minute", "Sync: tokens / min", form.TokensPerMinute?.ToString(CultureInfo.InvariantCulture), "1", null));
            sb.Append(NumberField("concurrency", "Sync: in flight at once", form.Concurrency?.ToString(CultureInfo.InvariantCulture), "1", null));
            sb.Append("</div><p class=\"note sync-only\">Synchronous limits left empty come from <code>rate_limits</code> in config/user.yaml, else from the provider's rate-limit headers.</p>");
        }

        sb.Append("<label>Id column (optional) <select name=\"id_column\" id=\"id-column\"><option value=\"\">row-N</option>");
        if (!string.IsNullOrEmpty(form.IdColumn))
        {
            sb.Append($"<option selected>{E(form.IdColumn)}</option>");
        }

        sb.Append("</select></label>");
        sb.Append("<p class=\"note\">The budget is kept on the job, as <code>run --budget</code>: each batch's estimate is reserved before it is sent, and a batch that would pass the budget is held back (its items stay pending until the budget is raised on the job's page).</p>");
        sb.Append("<label class=\"check\" title=\"--no-cache\"><input type=\"checkbox\" name=\"no_cache\" value=\"true\" data-testid=\"no-cache\"").Append(form.NoCache ? " checked" : string.Empty)
          .Append("> no cache: send every request, even one answered before (new answers are still stored)</label>");
        sb.Append("<label class=\"check\"><input type=\"checkbox\" name=\"new\" value=\"true\"> start a new job even if the same one ran before (default: continue it)</label>");
        sb.Append("</fieldset>");

        sb.Append("<fieldset><legend>5. Images and structured answers (optional)</legend>");
        sb.Append($"<label>Image column(s), a comma list <input name=\"image_columns\" id=\"image-columns\" value=\"{E(form.ImageColumns)}\" placeholder=\"e.g. Image Path\" data-testid=\"image_columns\"></label>");
        sb.Append("<p class=\"note\">Each cell names an image sent with the row: an http(s) URL, a data: URL, or a file relative to the allowed folder (an upload's images must be URLs). An empty cell sends no image.</p>");
        sb.Append("<label class=\"check\"><input type=\"checkbox\" name=\"skip_missing_images\" value=\"true\" data-testid=\"skip_missing_images\"").Append(form.SkipMissingImages ? " checked" : string.Empty)
          .Append("> skip rows whose image cannot be sent (instead of failing them)</label>");
        sb.Append($"<label>JSON schema every answer must follow <textarea name=\"json_schema\" id=\"json-schema\" rows=\"4\" placeholder=\"{{&quot;type&quot;:&quot;object&quot;,&quot;properties&quot;:{{…}}}}\" data-testid=\"json_schema\">{E(form.JsonSchema)}</textarea></label>");
        sb.Append("<label>or a schema file <input type=\"file\" name=\"json_schema_file\" accept=\".json\" data-testid=\"json_schema_file\"></label>");
        sb.Append("<p class=\"note\">As <code>--json-schema</code>: OpenAI structured output or an Anthropic forced tool; answers are validated and their top-level fields become export columns.</p>");
        sb.Append("</fieldset>");
        sb.Append("<p><button type=\"submit\" class=\"btn primary big\" data-testid=\"launch\">Launch job</button></p>");
        sb.Append("</div><div class=\"col\"><section class=\"preview\" aria-live=\"polite\"><h2>Preview</h2>");
        sb.Append("<div id=\"estimate\" data-testid=\"estimate\"><p class=\"muted\">The cost estimate (batch vs sync) appears once a file and a prompt are chosen.</p></div>");
        sb.Append("<div id=\"preview\" data-testid=\"preview\"></div></section></div></div></form>");
        return Layout("New job", "new", sb.ToString(), state.Csrf, flash);
    }

    private static string NumberField(string name, string label, string? value, string min, string? step) =>
        $"<label>{E(label)} <input type=\"number\" name=\"{name}\" id=\"{name.Replace('_', '-')}\" min=\"{min}\"{(step is null ? string.Empty : $" step=\"{step}\"")} value=\"{E(value)}\" data-testid=\"{name}\"></label>";
}
