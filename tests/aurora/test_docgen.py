from pathlib import Path

from aurora import docgen

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_tables_are_generated_from_code():
    text = README.read_text(encoding="utf-8")
    assert docgen.render(text) == text, "README tables are stale: run `make readme-tables`"


def test_render_replaces_only_marked_blocks():
    src = "a\n<!-- BEGIN GENERATED: order-fsm -->\nold\n<!-- END GENERATED: order-fsm -->\nz\n"
    out = docgen.render(src)
    assert out.startswith("a\n") and out.endswith("z\n") and "old" not in out
    assert "PREPARED | SUBMIT → SUBMITTED" in out
