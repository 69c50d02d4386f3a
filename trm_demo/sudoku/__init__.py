"""The 6x6 Sudoku reasoning proof: puzzles, training, evaluation, baselines, its report and its command."""
