"""Render the first pages of a standard manuscript DOCX as one PNG, through LibreOffice
headless (apt-get install libreoffice-writer-nogui poppler-utils). The book is bench.review's
generated 6,000-word novel. Prints JSON with the image's path and the page count.

    python -m bench.manuscript_pages [--out assets/screenshots/manuscript.png] [--pages 3]
"""

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from bench.review import written_book
from engine.projects.manuscript_format import export_manuscript
from engine.store.database import Store


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="assets/screenshots/manuscript.png")
    parser.add_argument("--pages", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        store = Store(folder / "book.db")
        project, _ = written_book(store, 6_000, seed=1)
        project = store.update_project(project, title="The Harbour Pilot")
        docx = export_manuscript(
            store,
            project,
            folder / "book.docx",
            "Jane Q. Doe",
            "12 Harbour Road, Skerry\njane@example.org",
        )
        subprocess.run(
            ["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(folder), str(docx)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "50",
                "-f",
                "1",
                "-l",
                str(args.pages),
                str(folder / "book.pdf"),
                str(folder / "page"),
            ],
            check=True,
            timeout=120,
        )
        pages = [Image.open(p) for p in sorted(folder.glob("page-*.png"))]
        gap = 16
        sheet = Image.new(
            "RGB",
            (
                sum(p.width for p in pages) + gap * (len(pages) + 1),
                max(p.height for p in pages) + 2 * gap,
            ),
            "#d9d9d9",
        )
        x = gap
        for page in pages:
            sheet.paste(page, (x, gap))
            x += page.width + gap
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        sheet.save(args.out, optimize=True)
        print(json.dumps({"image": args.out, "pages": len(pages)}))


if __name__ == "__main__":
    main()
