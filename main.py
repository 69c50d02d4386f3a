"""python main.py [flags]: see README.md, or python main.py --help."""

import sys

from trm_demo.cli import main

if __name__ == "__main__":
    sys.exit(main())
