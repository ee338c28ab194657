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
        using var zip = new OpenXmlZip(stream);
        var links = new WordLinks();
        MarkdownToWord word;
        long rows = 0;

        // The body part first: Fastest compression, as it holds nearly all the bytes and deflate dominates the time.
        using (var part = zip.CreatePart(WordParts.DocumentPart, WordParts.DocumentContentType, CompressionLevel.Fastest))
        using (var w = OpenXmlWriter.Create(part))
        {
            w.WriteStartDocument(true);
            w.WriteStartElement(new Document(), [], WordParts.Namespaces);
            w.WriteStartElement(new Body());
            word = new MarkdownToWord(w, links);
            word.Paragraph("Title", header.Title);
            word.Paragraph("Subtitle", $"BatchPilot export of job {job.Id}, {ExportHeader.Iso(header.ExportedAt)}");
            word.FieldTable(header.Fields());
            await foreach (var item in store.ReadItemsAsync(job.Id, cancellationToken).ConfigureAwait(false))
            {
                WriteItem(word, header, item);
                rows++;
                if ((rows & 0xFFFF) == 0)
                {
                    Checkpoints.Hit(Checkpoints.OutputWriting);
                }
            }

            w.WriteElement(WordParts.Section());
            w.WriteEndElement();
            w.WriteEndElement();
            w.Close();
        }

        WordParts.WriteStyles(zip);
        WordParts.WriteNumbering(zip, word.OrderedLists);
        WordParts.WriteSettings(zip);
        WordParts.WriteHeader(zip, PageHeader(header));
        foreach (var (id, target) in links.All)
        {
            zip.AddRelationship(WordParts.DocumentPart, id, OpenXmlZip.Rel + "hyperlink", target, external: true);
        }

        zip.AddRelationship("/", "rIdDoc", OpenXmlZip.Rel + "officeDocument", "word/document.xml");
        zip.WriteCoreProperties(
            title: header.Title,
            subject: job.Id,
            keywords: string.Join(' ', header.BatchIds),
            description: $"{job.Name}: {job.Spec.Provider} {job.Spec.Model}, {header.CountsPhrase()}; tokens {header.TokensPhrase()}.",
            created: job.CreatedAt,
            modified: header.ExportedAt);
        WordParts.WriteAppProperties(zip);
        WordParts.WriteCustomProperties(zip, header);
        zip.Complete();
        Checkpoints.Hit(Checkpoints.OutputWriting);
        return rows;
    }

    private static void WriteItem(MarkdownToWord word, ExportHeader header, ItemRecord item)
    {
        word.Paragraph("Heading1", header.ItemTitle(item));
        var usage = item.Usage is { } u ? ExportHeader.TokensPhrase(u) : "none";
        word.Paragraph("ItemMeta", $"Batch: {header.BatchIdOf(item) ?? "none"} · Attempt: {item.Attempt} · Tokens: {usage} · Source row: {item.SourceRow}");
        if (ExportHeader.ShowsError(item))
        {
            word.LabelledParagraph("ItemError", "Status: " + JobExporter.StatusName(item), " — " + ExportHeader.ErrorLine(item));
        }
        else
        {
            word.Markdown(header.Answers?.Markdown(item.ResultText) ?? item.ResultText!, headingShift: 1);
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
