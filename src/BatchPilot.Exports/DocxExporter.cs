using System.IO.Compression;
using BatchPilot.Items;
using BatchPilot.Jobs;
using BatchPilot.Running;
using BatchPilot.Storage;
using DocumentFormat.OpenXml;
using DocumentFormat.OpenXml.Wordprocessing;

namespace BatchPilot.Exports;

/// <summary>
/// The Word export. Body: a title, a header block (the job's metadata as a table), then per item a Heading1
/// title, a metadata line (batch id, attempt, tokens, source row) and the answer rendered from Markdown, or
/// the status and error. The same metadata goes into the core properties (title, creator, subject = job id,
/// keywords = batch ids, created, modified), custom properties and the page header. The body is streamed.
/// </summary>
internal static class DocxExporter
{
    /// <summary>Writes the document into <paramref name="stream"/> and returns the number of items.</summary>
    public static async Task<long> WriteAsync(IJobStore store, JobRecord job, Stream stream, ExportOptions options, CancellationToken cancellationToken)
    {
        var header = await ExportHeader.LoadAsync(store, job, options, cancellationToken).ConfigureAwait(false);
        var document = new DocumentInfo(
            header.Title,
            Subject: job.Id,
            Keywords: string.Join(' ', header.BatchIds),
            Description: $"{job.Name}: {job.Spec.Provider} {job.Spec.Model}, {header.CountsPhrase()}; tokens {header.TokensPhrase()}.",
            Created: job.CreatedAt,
            Modified: header.ExportedAt,
            PageHeader: PageHeader(header),
            CustomProperties: WordParts.CustomProperties(header));
        return await WriteDocumentAsync(stream, document, async word =>
        {
            word.Paragraph("Title", header.Title);
            word.Paragraph("Subtitle", $"BatchPilot export of job {job.Id}, {ExportHeader.Iso(header.ExportedAt)}");
            word.FieldTable(header.Fields());
            long rows = 0;
            await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken).ConfigureAwait(false))
            {
                word.Paragraph("Heading1", header.ItemTitle(item));
                WriteItemContent(word, header, item, headingShift: 1);
                rows++;
                if ((rows & 0xFFFF) == 0)
                {
                    Checkpoints.Hit(Checkpoints.OutputWriting);
                }
            }

            return rows;
        }).ConfigureAwait(false);
    }

    /// <summary>What a Word document says about itself: core properties, page header, custom properties.</summary>
    internal sealed record DocumentInfo(
        string Title, string Subject, string Keywords, string Description, DateTimeOffset Created, DateTimeOffset Modified, string PageHeader,
        IReadOnlyList<(string Name, object Value)> CustomProperties);

    /// <summary>
    /// Writes a whole document: the body streamed by <paramref name="body"/> (which returns its row count), then styles,
    /// numbering, settings, page header, links and properties. Shared by the job and comparison exports.
    /// </summary>
    internal static async Task<long> WriteDocumentAsync(Stream stream, DocumentInfo document, Func<MarkdownToWord, Task<long>> body)
    {
        using var zip = new OpenXmlZip(stream);
        var links = new WordLinks();
        MarkdownToWord word;
        long rows;

        // The body part first: Fastest compression, as it holds nearly all the bytes and deflate dominates the time.
        using (var part = zip.CreatePart(WordParts.DocumentPart, WordParts.DocumentContentType, CompressionLevel.Fastest))
        using (var w = new PartWriter(part))
        {
            w.WriteStartDocument();
            w.Start(new Document(), WordParts.Namespaces);
            w.Start(new Body());
            word = new MarkdownToWord(w, links);
            rows = await body(word).ConfigureAwait(false);
            w.Element(WordParts.Section());
            w.End();
            w.End();
        }

        WordParts.WriteStyles(zip);
        WordParts.WriteNumbering(zip, word.OrderedLists);
        WordParts.WriteSettings(zip);
        WordParts.WriteHeader(zip, document.PageHeader);
        foreach (var (id, target) in links.All)
        {
            zip.AddRelationship(WordParts.DocumentPart, id, OpenXmlZip.Rel + "hyperlink", target, external: true);
        }

        zip.AddRelationship("/", "rIdDoc", OpenXmlZip.Rel + "officeDocument", "word/document.xml");
        zip.WriteCoreProperties(
            title: document.Title,
            subject: document.Subject,
            keywords: document.Keywords,
            description: document.Description,
            created: document.Created,
            modified: document.Modified);
        WordParts.WriteAppProperties(zip);
        WordParts.WriteCustomProperties(zip, document.CustomProperties);
        zip.Complete();
        Checkpoints.Hit(Checkpoints.OutputWriting);
        return rows;
    }

    /// <summary>An item's metadata line (batch id, attempt, tokens, source row), then its answer rendered from Markdown, or its status and error.</summary>
    internal static void WriteItemContent(MarkdownToWord word, ExportHeader header, ItemRecord item, int headingShift)
    {
        var usage = item.Usage is { } u ? ExportHeader.TokensPhrase(u) : "none";
        word.Paragraph("ItemMeta", $"Batch: {header.BatchIdOf(item) ?? "none"} · Attempt: {item.Attempt} · Tokens: {usage} · Source row: {item.SourceRow}");
        if (ExportHeader.ShowsError(item))
        {
            word.LabelledParagraph("ItemError", "Status: " + JobExporter.StatusName(item), " — " + ExportHeader.ErrorLine(item));
        }
        else
        {
            word.Markdown(header.Answers?.Markdown(item.ResultText) ?? item.ResultText!, headingShift);
        }
    }

    /// <summary>Job id, up to three batch ids, export time.</summary>
    private static string PageHeader(ExportHeader h)
    {
        var batches = h.BatchIds.Count switch
        {
            0 => "no batch",
            <= 3 => string.Join(", ", h.BatchIds),
            _ => string.Join(", ", h.BatchIds.Take(3)) + $" (+{h.BatchIds.Count - 3} more)",
        };
        return $"BatchPilot · {h.Job.Id} · {batches} · exported {ExportHeader.Iso(h.ExportedAt)}";
    }
}
