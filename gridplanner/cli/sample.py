"""``gridplanner sample``: write the synthetic sample district to a folder."""

from __future__ import annotations

from pathlib import Path

import typer

from gridplanner.cli import app


@app.command()
def sample(
    out: Path = typer.Option(Path("data/boundaries"), "--out", help="Folder to write the sample files to."),
    seed: int = typer.Option(20261122, "--seed", help="Random seed; the same seed writes byte-identical files."),
) -> None:
    """Write the synthetic sample district 示范区 (communities, buildings, roads, department layers, staff, incidents)."""
    from gridplanner.sampledata import write_sample

    paths = write_sample(out, seed=seed)
    total = sum(p.stat().st_size for p in paths)
    for p in paths:
        typer.echo(f"{p}  {p.stat().st_size / 1024:.0f} KiB")
    typer.echo(f"{len(paths)} files, {total / 1024 / 1024:.2f} MiB in {out}")
