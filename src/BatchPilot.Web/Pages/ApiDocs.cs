using System.Text;
using System.Text.Json;
using BatchPilot.Web.Hosting;
using static BatchPilot.Web.Pages.Html;

namespace BatchPilot.Web.Pages;

/// <summary>A readable page of the OpenAPI document.</summary>
internal static class ApiDocs
{
    public static string Render(DashboardState state, byte[] openApi)
    {
        using var doc = JsonDocument.Parse(openApi);
        var sb = new StringBuilder("<div class=\"page-head\"><h1>JSON API</h1></div>");
        sb.Append("<p>Scripts drive the dashboard through these routes. The machine-readable description is <a href=\"/api/openapi.json\">/api/openapi.json</a> (OpenAPI 3.1). ");
        sb.Append("Every state-changing request needs the anti-forgery token in the <code>X-CSRF-Token</code> header (from <code>GET /api/csrf</code>)");
        sb.Append(state.Token is null ? "." : ", or the access token as <code>Authorization: Bearer TOKEN</code>; every request needs the access token.");
        sb.Append("</p><table class=\"grid\"><thead><tr><th>Method</th><th>Path</th><th>What it does</th></tr></thead><tbody>");
        foreach (var path in doc.RootElement.GetProperty("paths").EnumerateObject())
        {
            foreach (var op in path.Value.EnumerateObject())
            {
                var summary = op.Value.TryGetProperty("summary", out var s) ? s.GetString() : string.Empty;
                sb.Append("<tr><td><b>").Append(E(op.Name.ToUpperInvariant())).Append("</b></td><td class=\"mono\">").Append(E(path.Name)).Append("</td><td>").Append(E(summary)).Append("</td></tr>");
            }
        }

        sb.Append("</tbody></table>");
        return Layout("API", "api", sb.ToString(), state.Csrf);
    }
}
