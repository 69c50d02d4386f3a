"""The 6x6 Sudoku reasoning proof: puzzles, training, evaluation, its report and its command."""
