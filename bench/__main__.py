"""``python -m jackpot.bench [--quick]``: the bench command without the rest of the CLI."""

from .cli import bench

if __name__ == "__main__":  # pragma: no cover
    bench(prog_name="jackpot bench")
