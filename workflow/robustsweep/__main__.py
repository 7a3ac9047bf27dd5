"""`python -m robustsweep <stage> ...` runs one pipeline stage (what every rule calls)."""

from robustsweep.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
