using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace BatchPilot.IO.Bench;

/// <summary>
/// A generated table shaped like <c>examples/reviews.csv</c> (review_id, product, rating, review_text), about 150 bytes a
/// row as CSV: product names with quotes and commas, reviews in English with some French, German, Spanish, Chinese and
/// Japanese, quoted words, commas, and a line break inside one review in 40. Deterministic for a seed.
/// </summary>
internal static class ReviewTable
{
    public static readonly string[] Columns = ["review_id", "product", "rating", "review_text"];

    private static readonly string[] Products =
    [
        "Petal Ceramic Vase", "Chef's Choice Santoku Knife", "PixelView 27\" 4K Monitor", "Crisp Air Fryer, 5.5 L",
        "VoltGo 20,000 mAh Power Bank", "Lumen Smart LED Bulb (4-pack)", "Nimbus Robot Vacuum", "Orbit Electric Toothbrush",
        "ComfortPlus Memory Foam Pillow", "Scribe Mechanical Keyboard", "KidsPlay Building Blocks Set", "Nomad Travel Adapter",
        "FlexiDesk Standing Desk", "Cozy Knit Throw Blanket", "Aurora Wireless Earbuds", "Summit 40L Hiking Backpack",
        "StreamCam HD Webcam", "Evergreen Bamboo Cutting Board", "BrewMaster Drip Coffee Maker", "Arctic Stainless Water Bottle",
        "TrailBlazer Running Shoes", "Glow Vitamin C Serum", "Thunder Bluetooth Speaker", "Zen Yoga Mat", "Café Crème Espresso Machine",
        "Kyoto 和風 Ceramic Teapot",
    ];

    private static readonly string[][] Openings =
    [
        ["Returned it.", "Broke on day one.", "Écouteur gauche défectueux au bout de deux semaines.", "质量太差了，用了三天就坏了。", "Completely useless, sadly."],
        ["Disappointing.", "Déçu, honnêtement.", "Not what the listing promised.", "Leider nicht wie beschrieben.", "期待していたほどではありません。"],
        ["It's okay.", "Does the job, nothing more.", "Correct, sans plus.", "Ni bueno ni malo.", "还行，价格合适。"],
        ["Good value for the price.", "Très bon produit, je recommande.", "Solid and well made.", "Sehr gute Qualität.", "使いやすくて満足しています。"],
        ["Absolutely love it!", "Excellente cafetière, le café est chaud et bien corsé !", "Best purchase this year.", "孩子特别喜欢，每天都要玩。", "¡Excelente, lo recomiendo!"],
    ];

    private static readonly string[] Middles =
    [
        "The listing says \"handmade\", and that turned out to be true.", "The listing says \"stainless\", and that is simply false.",
        "It arrived cracked and the packaging was clearly inadequate.", "Well balanced, and the handle feels secure even when wet.",
        "Setup took five minutes, the app is clear and it remembers my settings.", "Battery lasts about two days with normal use.",
        "L'application perd la carte de l'appartement une fois sur deux.", "Der Akku hält, aber das Ladekabel ist sehr kurz.",
        "The colour is a bit darker than in the photos, but it looks great on the shelf.", "积木质量不错，拼接很紧，没有异味。",
        "Customer service replied within a day and sent a replacement.", "It is loud, louder than my old one, but it cleans well.",
        "The size is right, the fabric is soft, and it washes without shrinking.", "説明書が分かりやすく、組み立ても簡単でした。",
    ];

    private static readonly string[] Closings =
    [
        "Save your money.", "Would buy again.", "A bit pricey, but worth it.", "Already recommended it to two friends.",
        "Je recommande sans hésiter.", "À éviter.", "Two weeks in and I'm already shopping for a replacement.", "总体来说，物有所值。",
        "Four stars because of the delivery, not the product.", "Würde ich wieder kaufen.",
    ];

    private static readonly string[] Updates =
    [
        "Update after a month: still going strong.", "Update after a month: the replacement they sent has the same problem.",
        "Update after a month: still no reply from the seller.",
    ];

    /// <summary>The rows in order, each a fresh array.</summary>
    public static IEnumerable<string[]> Rows(int count, int seed = 42)
    {
        var random = new Random(seed);
        var text = new StringBuilder(256);
        for (var i = 1; i <= count; i++)
        {
            var rating = random.Next(1, 6);
            text.Clear();
            text.Append(Openings[rating - 1][random.Next(5)]);
            var middles = random.Next(10) == 0 ? 2 : 1;
            for (var m = 0; m < middles; m++)
            {
                text.Append(' ').Append(Middles[random.Next(Middles.Length)]);
            }

            text.Append(' ').Append(Closings[random.Next(Closings.Length)]);
            if (random.Next(40) == 0)
            {
                text.Append('\n').Append(Updates[random.Next(Updates.Length)]);
            }

            yield return
            [
                "R" + i.ToString("0000000", CultureInfo.InvariantCulture),
                Products[random.Next(Products.Length)],
                rating.ToString(CultureInfo.InvariantCulture),
                text.ToString(),
            ];
        }
    }

    /// <summary>Writes the table as RFC 4180 CSV (LF line ends) and returns its size in bytes.</summary>
    public static long WriteCsv(string path, int count)
    {
        using (var w = new StreamWriter(path, false, new UTF8Encoding(false), 1 << 16))
        {
            w.Write(string.Join(',', Columns));
            w.Write('\n');
            foreach (var row in Rows(count))
            {
                for (var c = 0; c < row.Length; c++)
                {
                    if (c > 0)
                    {
                        w.Write(',');
                    }

                    var v = row[c];
                    if (v.AsSpan().IndexOfAny(",\"\n") >= 0)
                    {
                        w.Write('"');
                        w.Write(v.Replace("\"", "\"\"", StringComparison.Ordinal));
                        w.Write('"');
                    }
                    else
                    {
                        w.Write(v);
                    }
                }

                w.Write('\n');
            }
        }

        return new FileInfo(path).Length;
    }

    /// <summary>Writes the table as JSONL (the rating as a number, text unescaped UTF-8) and returns its size in bytes.</summary>
    public static long WriteJsonl(string path, int count)
    {
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        using (var w = new Utf8JsonWriter(file, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true }))
        {
            foreach (var row in Rows(count))
            {
                w.WriteStartObject();
                w.WriteString(Columns[0], row[0]);
                w.WriteString(Columns[1], row[1]);
                w.WriteNumber(Columns[2], int.Parse(row[2], CultureInfo.InvariantCulture));
                w.WriteString(Columns[3], row[3]);
                w.WriteEndObject();
                w.Flush();
                w.Reset();
                file.WriteByte((byte)'\n');
            }
        }

        return new FileInfo(path).Length;
    }
}
