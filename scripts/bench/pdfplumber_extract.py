"""Python pdfplumber's extraction of the corpus PDFs in the shape of the corpus texts (ruled tables
as TAB rows, text outside tables in reading order), timed: pages per second per core.

    python pdfplumber_extract.py CORPUS_DIR [ROUNDS]
"""

import pathlib
import sys
import time

import pdfplumber


def extract(path):
    out = []
    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            tables = page.find_tables()
            boxes = [t.bbox for t in tables]

            def outside(obj, boxes=boxes):
                if obj.get("object_type") != "char":
                    return True
                cx = (obj["x0"] + obj["x1"]) / 2
                cy = (obj["top"] + obj["bottom"]) / 2
                return not any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in boxes)

            items = []
            for t in tables:
                for row in t.extract():
                    if any(c for c in row):
                        items.append("\t".join((c or "").replace("\n", "") for c in row))
            text = page.filter(outside).extract_text()
            items.extend(text.splitlines())
            out.append("\n".join(items))
    return "\n\n".join(out), len(out)


def main():
    corpus = pathlib.Path(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    pdfs = sorted(corpus.glob("*.pdf"))
    total_pages = 0
    best = {}
    for p in pdfs:
        times = []
        for _ in range(rounds):
            t = time.perf_counter()
            _, pages = extract(p)
            times.append(time.perf_counter() - t)
        best[p.name] = (min(times), pages)
        total_pages += pages
    total = sum(t for t, _ in best.values())
    for name, (t, pages) in best.items():
        print(f"{name}\t{pages} pages\t{t * 1000:.0f} ms\t{pages / t:.1f} pages/s")
    print(f"TOTAL\t{len(pdfs)} PDFs\t{total_pages} pages\t{total:.2f} s\t{total_pages / total:.1f} pages/s per core")


if __name__ == "__main__":
    main()
