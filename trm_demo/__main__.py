"""`python -m trm_demo`, `python main.py` and the `trm-demo` console script start here."""

import sys

from .process import prepare_process


def main() -> None:
    prepare_process()   # before NumPy loads: OpenBLAS reads its kernel and thread settings once
    from .cli import main as run_cli
    sys.exit(run_cli())


if __name__ == "__main__":
    main()
