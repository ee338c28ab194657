using BatchPilot.Errors;
using BatchPilot.Planning;
using BatchPilot.Pricing;
using BatchPilot.Providers;
using BatchPilot.Testing;

namespace BatchPilot.Core.Tests.Planning;

public sealed class ImageInputsTests
{
    private static readonly string[] Columns = ["id", "Image Path", "Second image"];

    private static string Corpus(string name) => RepositoryRoot.PathOf("tests", "corpus", "images", name);

    [Theory]
    [InlineData("red-4x3.png", "image/png", 4, 3)]
    [InlineData("gray-16x8.jpg", "image/jpeg", 16, 8)]
    public void Read_RealFiles_GivesTypeFromContentAndSizeFromHeader(string file, string mediaType, int width, int height)
    {
        using var stream = File.OpenRead(Corpus(file));

        var info = ImageHeader.Read(stream);

        Assert.Equal(new ImageHeaderInfo(mediaType, width, height), info);
    }

    [Fact]
    public void Read_GifAndWebpHeaders_AreRecognised_OtherBytesAreNot()
    {
        byte[] gif = [.. "GIF89a"u8, 0x20, 0x00, 0x10, 0x00, 0, 0, 0];
        byte[] webp = [.. "RIFF"u8, 0, 0, 0, 0, .. "WEBP"u8, .. "VP8X"u8, 10, 0, 0, 0, 0, 0, 0, 0, 99, 0, 0, 49, 0, 0];
        byte[] bmp = [.. "BM"u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

        Assert.Equal(new ImageHeaderInfo("image/gif", 32, 16), ImageHeader.Read(gif));
        Assert.Equal(new ImageHeaderInfo("image/webp", 100, 50), ImageHeader.Read(webp));
        Assert.Null(ImageHeader.Read(bmp));
    }

    [Fact]
    public void Resolve_RelativePaths_LookInTheInputFolderThenTheWorkingFolder_WithBackslashes()
    {
        using var ws = new TempWorkspace();
        Directory.CreateDirectory(ws.PathOf("input/img"));
        Directory.CreateDirectory(ws.PathOf("work/pics"));
        File.Copy(Corpus("red-4x3.png"), ws.PathOf("input/img/a.png"));
        File.Copy(Corpus("gray-16x8.jpg"), ws.PathOf("work/pics/b.jpg"));
        var images = ImageInputs.Create(["Image Path,Second image"], [ws.PathOf("input"), ws.PathOf("work")], ProviderNames.OpenAI, Columns);

        var (parts, problem) = images.Resolve(["x", "img\\a.png", "pics/b.jpg"], 2);

        Assert.Null(problem);
        Assert.Equal([ws.PathOf("input/img/a.png"), ws.PathOf("work/pics/b.jpg")], parts.Select(p => p.Value));
        Assert.Equal(["image/png", "image/jpeg"], parts.Select(p => p.MediaType));
        Assert.Equal([99L, 172L], parts.Select(p => p.Length));
        Assert.Equal(ImageSourceKind.File, parts[0].Kind);
    }

    [Fact]
    public void Resolve_UrlsAndDataUrls_PassThrough_EmptyCellsSendNothing()
    {
        var images = ImageInputs.Create(["Image Path", "Second image"], [], ProviderNames.Anthropic, Columns);
        var data = "data:image/png;base64," + Convert.ToBase64String(File.ReadAllBytes(Corpus("red-4x3.png")));

        var (parts, problem) = images.Resolve(["x", "https://example.com/cat.jpg", data]);
        var (none, _) = images.Resolve(["x", "", null]);

        Assert.Null(problem);
        Assert.Equal([ImageSourceKind.Url, ImageSourceKind.DataUrl], parts.Select(p => p.Kind));
        Assert.Equal(99, parts[1].Length);
        Assert.Empty(none);
    }

    [Fact]
    public void Resolve_Problems_NameTheFileRowAndColumn()
    {
        using var ws = new TempWorkspace();
        File.Copy(Corpus("not-an-image.png"), ws.PathOf("text.png"));
        var images = ImageInputs.Create(["Image Path"], [ws.Root], ProviderNames.OpenAI, Columns);

        var missing = images.Resolve(["x", "nope.png"], 7).Problem!;
        var notImage = images.Resolve(["x", "text.png"], 8).Problem!;
        var badData = images.Resolve(["x", "data:image/jpeg;base64," + Convert.ToBase64String(File.ReadAllBytes(Corpus("red-4x3.png")))], 9).Problem!;

        Assert.Equal(new ImageProblem("image_not_found", $"image file not found: 'nope.png' (row 7, column 'Image Path'; looked in {ws.Root})"), missing);
        Assert.Equal(new ImageProblem("image_unsupported_type", "'text.png' is not a PNG, JPEG, GIF or WebP image (checked from its content, not its name) (row 8, column 'Image Path')"), notImage);
        Assert.Equal("image_invalid", badData.Code);
        Assert.EndsWith("says image/jpeg but holds a image/png image (row 9, column 'Image Path')", badData.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_AnthropicLimit_CountsTheBase64Size()
    {
        // 4 MB of PNG becomes 5.33 MB of base64: over Anthropic's 5 MB, within OpenAI's 20 MB.
        using var ws = new TempWorkspace();
        var bytes = new byte[4 * 1024 * 1024];
        File.ReadAllBytes(Corpus("red-4x3.png")).CopyTo(bytes, 0);
        File.WriteAllBytes(ws.PathOf("big.png"), bytes);

        var anthropic = ImageInputs.Create(["Image Path"], [ws.Root], ProviderNames.Anthropic, Columns).Resolve(["x", "big.png"], 2).Problem;
        var openai = ImageInputs.Create(["Image Path"], [ws.Root], ProviderNames.OpenAI, Columns).Resolve(["x", "big.png"], 2).Problem;

        Assert.Equal(new ImageProblem("image_too_large", "the image 'big.png' is 5.33 MB as base64; anthropic accepts at most 5 MB per image (row 2, column 'Image Path')"), anthropic);
        Assert.Null(openai);
    }

    [Fact]
    public void Create_UnknownColumn_Throws()
    {
        var ex = Assert.Throws<InputException>(() => ImageInputs.Create(["Image"], [], ProviderNames.OpenAI, Columns, "rows.csv"));

        Assert.Equal("--image-column", ex.Field);
        Assert.Equal("the image column 'Image' is not in the input", ex.Message);
    }

    [Theory]
    [InlineData("gpt-4o", 1024, 1024, 765)]
    [InlineData("gpt-4o", 2048, 4096, 1105)]
    [InlineData("gpt-4o", 4, 3, 255)]
    [InlineData("gpt-4o-mini", 1024, 1024, 2833 + 4 * 5667)]
    [InlineData("gpt-4.1-mini", 1024, 1024, 1659)]
    [InlineData("claude-haiku-4-5", 1000, 1000, 1334)]
    [InlineData("claude-haiku-4-5", 200, 200, 54)]
    [InlineData("claude-haiku-4-5", 4000, 3000, 1600)]
    public void CountImage_FollowsThePublishedRules(string model, int width, int height, long expected)
    {
        Assert.Equal(expected, TokenCounter.CountImage(model, width, height));
    }

    [Fact]
    public void CountRequest_AddsImagesAndTheSchema()
    {
        var plain = new LlmRequest { Model = "gpt-4o", UserText = "Décris l'image" };
        var withImage = plain with { Images = [new ImagePart { Kind = ImageSourceKind.File, Value = "/x.png", MediaType = "image/png", Length = 99, Width = 4, Height = 3 }] };
        var withSchema = plain with { ResponseFormat = new ResponseFormat("answer", "{\"type\":\"object\"}") };

        Assert.Equal(TokenCounter.CountRequest(plain) + 255, TokenCounter.CountRequest(withImage));
        Assert.True(TokenCounter.CountRequest(withSchema) > TokenCounter.CountRequest(plain) + 3);
    }
    [Fact]
    public void CreateForSending_ImageGoneAfterTheCheck_GivesTheProblemInsteadOfARequestWithoutIt()
    {
        using var ws = new TempWorkspace();
        File.Copy(Corpus("red-4x3.png"), ws.PathOf("a.png"));
        var spec = new BatchPilot.Jobs.JobSpec
        {
            InputPath = "rows.csv",
            InputSha256 = "x",
            Provider = ProviderNames.OpenAI,
            Model = "gpt-4o",
            Prompt = "Décris",
            Endpoint = "emulator",
            ImageColumns = ["Image Path"],
            ImageFolders = [ws.Root],
        };
        var factory = new RequestFactory(spec, Columns);
        var item = new BatchPilot.Items.ItemRecord { JobId = "job-1", Seq = 1, CustomId = "row-1", SourceRow = 2, Values = ["x", "a.png", null] };

        var before = factory.CreateForSending(item);
        File.Delete(ws.PathOf("a.png"));
        var after = factory.CreateForSending(item);

        Assert.Null(before.Problem);
        Assert.Single(before.Request.Request.Images);
        Assert.Equal("image_not_found", after.Problem?.Code);
        Assert.Empty(after.Request.Request.Images);
    }
}
