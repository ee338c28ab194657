using BatchPilot.Errors;

namespace BatchPilot.Inputs.Tests;

public sealed class InputFingerprintTests : IDisposable
{
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void ComputeSha256_ReturnsLowercaseHexOfTheBytes()
    {
        // Arrange
        var path = _folder.Write("abc.csv", "abc");

        // Act
        var hash = InputFingerprint.ComputeSha256(path);

        // Assert
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", hash);
    }

    [Fact]
    public void ComputeSha256_ChangesWhenOneByteChanges()
    {
        // Arrange
        var first = _folder.Write("a.csv", "id,text\n1,a\n");
        var second = _folder.Write("b.csv", "id,text\n1,b\n");

        // Act
        var a = InputFingerprint.ComputeSha256(first);
        var b = InputFingerprint.ComputeSha256(second);

        // Assert
        Assert.NotEqual(a, b);
        Assert.Equal(a, InputFingerprint.ComputeSha256(first));
    }

    [Fact]
    public void ComputeSha256_MissingFile_IsAnInputError()
    {
        // Arrange
        var path = Path.Combine(_folder.Path, "missing.csv");

        // Act
        var ex = Assert.Throws<InputException>(() => InputFingerprint.ComputeSha256(path));

        // Assert
        Assert.StartsWith($"{path}: file not found.", ex.ToUserLine(), StringComparison.Ordinal);
    }

    [Fact]
    public void ComputeSha256_Directory_IsAnInputError()
    {
        // Act
        var ex = Assert.Throws<InputException>(() => InputFingerprint.ComputeSha256(_folder.Path));

        // Assert
        Assert.Equal($"{_folder.Path}: this is a directory, not a file. Give the path of a .csv or .jsonl file inside it.", ex.ToUserLine());
    }

    [Fact]
    public void ComputeSha256_StandardInput_IsAnInputError()
    {
        // Act
        var ex = Assert.Throws<InputException>(() => InputFingerprint.ComputeSha256("-"));

        // Assert
        Assert.Equal("<stdin>: standard input has no file to fingerprint. Save the input to a file and pass its path.", ex.ToUserLine());
    }
}
