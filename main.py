"""python main.py [flags]: see README.md, or python main.py --help."""

from trm_demo.__main__ import launch

if __name__ == "__main__":
    launch()
