"""figures/atlas/REPORT.md is a copy of the scale's report whose figure links still resolve."""

from trainlens.cli import main
from trainlens.report import relink_markdown


def test_relative_links_and_images_get_the_prefix():
    text = "![fig](figX01_a.png) and [table](../x/t.tsv)"
    assert relink_markdown(text, "../cpu/atlas/") == (
        "![fig](../cpu/atlas/figX01_a.png) and [table](../cpu/atlas/../x/t.tsv)")


def test_urls_rooted_paths_and_anchors_are_kept():
    text = "[a](https://example.org/x) [b](/abs/p.png) [c](#findings) [d](mailto:x@y)"
    assert relink_markdown(text, "../cpu/atlas/") == text


def test_the_command_writes_the_copy(tmp_path):
    source = tmp_path / "REPORT.md"
    source.write_text("# R\n\n![f](figX02_b.png)\n")
    out = tmp_path / "copy" / "REPORT.md"
    out.parent.mkdir()
    assert main(["relink", "--source", str(source), "--prefix", "../smoke/atlas/",
                 "--out", str(out)]) == 0
    assert out.read_text() == "# R\n\n![f](../smoke/atlas/figX02_b.png)\n"
