"""6×6 Sudoku (2×3 boxes): generator, exact solver, difficulty, orbit split, augmentation.

The reasoning task that shows recursion paying off (docs/ARCHITECTURE.md: the
Sudoku proof). A board is 36 ints in row-major order: 0 = blank, 1..6 = digits.

- Solver: exact backtracking on bitmasks (most-constrained cell first), counts
  solutions up to a limit, so "unique" is a fact, not a hope.
- Generator: a random full grid, then cells are removed in random order while the
  puzzle stays unique, until 9–12 givens remain.
- Difficulty: rounds of naked/hidden singles needed to solve it (all singles of a
  round are filled at once). Puzzles singles cannot finish are rejected by the
  generator, so every difficulty is a number.
- Symmetry: relabelling the digits, permuting rows within a band (2 rows), bands,
  columns within a stack (3 columns) and stacks all map Sudokus to Sudokus
  (720 × 3,456 maps). Train and held-out puzzles are split by orbit under this
  group, so augmenting a training puzzle can never produce a held-out one.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from trm_demo.errors import PuzzleError

SIZE = 6
BOX_ROWS, BOX_COLS = 2, 3
CELLS = SIZE * SIZE
DIGITS = tuple(range(1, SIZE + 1))
ALL_DIGITS = (1 << SIZE) - 1     # bit d-1 set = digit d still possible
MIN_GIVENS, MAX_GIVENS = 9, 12


def _units() -> list[list[int]]:
    rows = [[r * SIZE + c for c in range(SIZE)] for r in range(SIZE)]
    cols = [[r * SIZE + c for r in range(SIZE)] for c in range(SIZE)]
    boxes = [[(br + r) * SIZE + bc + c for r in range(BOX_ROWS) for c in range(BOX_COLS)]
             for br in range(0, SIZE, BOX_ROWS) for bc in range(0, SIZE, BOX_COLS)]
    return rows + cols + boxes


UNITS = _units()
PEERS = [sorted({p for unit in UNITS if cell in unit for p in unit} - {cell}) for cell in range(CELLS)]


# --- parsing and checking ---

def parse_board(text: str) -> np.ndarray:
    """'36 chars, 1-6 for givens, 0 or . for blanks' -> (36,) int board; raises PuzzleError."""
    cleaned = "".join(text.split())
    if len(cleaned) != CELLS:
        raise PuzzleError(f"puzzle has {len(cleaned)} cells, expected {CELLS} "
                          "(6 rows of 6: digits 1-6, 0 or . for blanks)")
    bad = sorted({ch for ch in cleaned if ch not in "0123456."})
    if bad:
        raise PuzzleError(f"puzzle has invalid character(s) {' '.join(repr(b) for b in bad)}; "
                          "use digits 1-6, and 0 or . for blanks")
    board = np.array([0 if ch == "." else int(ch) for ch in cleaned], dtype=np.int64)
    clash = first_conflict(board)
    if clash:
        raise PuzzleError(clash)
    return board


def first_conflict(board) -> str | None:
    """A one-line description of two equal givens sharing a row, column or box, or None."""
    kinds = ["row"] * SIZE + ["column"] * SIZE + ["box"] * SIZE
    for kind, unit in zip(kinds, UNITS):
        seen = {}
        for cell in unit:
            digit = int(board[cell])
            if digit and digit in seen:
                a, b = seen[digit], cell
                return (f"the givens contradict each other: digit {digit} appears twice in a {kind} "
                        f"(r{a // SIZE + 1}c{a % SIZE + 1} and r{b // SIZE + 1}c{b % SIZE + 1})")
            seen[digit] = cell
    return None


def format_board(board) -> str:
    return "".join(str(int(v)) if v else "." for v in board)


def is_solution(puzzle, grid) -> bool:
    """grid is a complete valid Sudoku that agrees with every given of puzzle."""
    grid = np.asarray(grid)
    if grid.shape != (CELLS,) or not np.all((grid >= 1) & (grid <= SIZE)):
        return False
    givens = np.asarray(puzzle) > 0
    if not np.array_equal(grid[givens], np.asarray(puzzle)[givens]):
        return False
    return all(len({int(grid[c]) for c in unit}) == SIZE for unit in UNITS)


# --- exact solver ---

# the three units of each cell (its row, column and box), as indices into UNITS
_UNITS_OF = [(cell // SIZE, SIZE + cell % SIZE, 2 * SIZE + (cell // SIZE) // BOX_ROWS * (SIZE // BOX_COLS)
              + (cell % SIZE) // BOX_COLS) for cell in range(CELLS)]


def _used(board: list[int]) -> list[int] | None:
    """Bitmask of the digits in each unit, or None if two givens clash: the solver's hot spot."""
    used = [0] * len(UNITS)
    for digit, (r, c, b) in zip(board, _UNITS_OF):
        if digit:
            bit = 1 << (digit - 1)
            if (used[r] | used[c] | used[b]) & bit:
                return None
            used[r] |= bit
            used[c] |= bit
            used[b] |= bit
    return used


def _candidates(board: list[int]) -> list[int] | None:
    """Bitmask of allowed digits per cell, or None if two givens clash."""
    used = _used(board)
    if used is None:
        return None
    return [1 << (digit - 1) if digit else ALL_DIGITS & ~(used[r] | used[c] | used[b])
            for digit, (r, c, b) in zip(board, _UNITS_OF)]


def solve(puzzle, limit: int = 2, rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Up to `limit` solutions of puzzle (all of them if there are fewer).

    Depth-first search on the most constrained blank; with rng, digits are tried
    in random order (used to draw random full grids).
    """
    board = [int(v) for v in puzzle]
    used = _used(board)   # kept up to date as digits are tried: each node reads its blanks' masks from it
    if used is None:   # two givens clash
        return []
    solutions: list[np.ndarray] = []

    def search() -> None:
        best, best_mask, best_count = -1, 0, SIZE + 1
        for cell in range(CELLS):
            if not board[cell]:
                r, c, b = _UNITS_OF[cell]
                mask = ALL_DIGITS & ~(used[r] | used[c] | used[b])
                count = mask.bit_count()
                if count < best_count:
                    best, best_mask, best_count = cell, mask, count
                    if count <= 1:
                        break
        if best < 0:
            solutions.append(np.array(board, dtype=np.int64))
            return
        digits = [d for d in DIGITS if best_mask >> (d - 1) & 1]
        if rng is not None:
            digits = [digits[i] for i in rng.permutation(len(digits))]
        r, c, b = _UNITS_OF[best]
        for digit in digits:
            bit = 1 << (digit - 1)
            board[best] = digit
            used[r] |= bit
            used[c] |= bit
            used[b] |= bit
            search()
            board[best] = 0
            used[r] ^= bit
            used[c] ^= bit
            used[b] ^= bit
            if len(solutions) >= limit:
                return

    search()
    return solutions


def count_solutions(puzzle, limit: int = 2) -> int:
    return len(solve(puzzle, limit))


# --- difficulty: rounds of singles ---

def singles_rounds(puzzle) -> tuple[int | None, np.ndarray]:
    """Rounds of naked + hidden singles to finish puzzle, and the board they reach.

    Each round fills every cell that is a naked single (one candidate left) or a
    hidden single (the only place for a digit in some row, column or box),
    judged on the board at the start of the round. Returns (None, partial board)
    if singles get stuck or hit a contradiction.
    """
    board = [int(v) for v in puzzle]
    rounds = 0
    while 0 in board:
        masks = _candidates(board)
        if masks is None:
            return None, np.array(board)
        found: dict[int, int] = {}
        for cell in range(CELLS):
            if not board[cell]:
                m = masks[cell]
                if m == 0:
                    return None, np.array(board)
                if m & (m - 1) == 0:
                    found[cell] = m.bit_length()
        for unit in UNITS:
            once = twice = 0   # digits possible in at least one, and in at least two, blanks of the unit
            for c in unit:
                if not board[c]:
                    twice |= once & masks[c]
                    once |= masks[c]
            only = once & ~twice   # the digits with one place in the unit
            if only:
                for c in unit:
                    hits = masks[c] & only if not board[c] else 0
                    if hits:   # two digits with this one place: a contradiction; the smaller is kept
                        found.setdefault(c, (hits & -hits).bit_length())
        if not found:
            return None, np.array(board)
        for cell, digit in found.items():
            board[cell] = digit
        rounds += 1
    if _used(board) is None:   # the singles filled a digit twice into a unit
        return None, np.array(board)
    return rounds, np.array(board, dtype=np.int64)


def difficulty(puzzle) -> int | None:
    return singles_rounds(puzzle)[0]


# --- generator ---

def random_grid(rng: np.random.Generator) -> np.ndarray:
    return solve(np.zeros(CELLS, dtype=np.int64), limit=1, rng=rng)[0]


def _is_unique(board) -> bool:
    # Fast path: singles alone finishing the board proves the solution is unique.
    if singles_rounds(board)[0] is not None:
        return True
    return count_solutions(board, 2) == 1


def generate_puzzle(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One (puzzle, solution) with a unique solution, 9–12 givens, solvable by singles."""
    while True:
        solution = random_grid(rng)
        target = int(rng.integers(MIN_GIVENS, MAX_GIVENS + 1))
        puzzle = solution.copy()
        givens = CELLS
        for cell in rng.permutation(CELLS):
            if givens == target:
                break
            puzzle[cell] = 0
            if _is_unique(puzzle):
                givens -= 1
            else:
                puzzle[cell] = solution[cell]
        if givens <= MAX_GIVENS and difficulty(puzzle) is not None:
            return puzzle, solution


# --- symmetry: orbits and augmentation ---

def _line_orders(group_size: int, n_groups: int) -> np.ndarray:
    """Every order of lines that permutes groups and lines within each group."""
    orders = []
    for group_order in itertools.permutations(range(n_groups)):
        for inner in itertools.product(itertools.permutations(range(group_size)), repeat=n_groups):
            orders.append([g * group_size + i for g, perm in zip(group_order, inner) for i in perm])
    return np.array(orders)


ROW_ORDERS = _line_orders(BOX_ROWS, SIZE // BOX_ROWS)       # (48, 6)
COL_ORDERS = _line_orders(BOX_COLS, SIZE // BOX_COLS)       # (72, 6)
# (3456, 36): new_board[i] = board[CELL_MAPS[k, i]]
CELL_MAPS = (ROW_ORDERS[:, None, :, None] * SIZE + COL_ORDERS[None, :, None, :]).reshape(-1, CELLS)
_CELL_POSITIONS = np.argsort(CELL_MAPS, axis=1)      # (3456, 36): where each old cell lands


def canonical_form(puzzle) -> bytes:
    """The same bytes for every puzzle in one symmetry orbit (and different bytes across orbits).

    Min over all 3,456 cell maps of the board with digits relabelled in order of
    first appearance (relabelling commutes with the cell maps, so this covers
    all 720 × 3,456 symmetries).
    """
    puzzle = np.asarray(puzzle)
    boards = puzzle[CELL_MAPS]                                              # (K, 36)
    # where each digit first appears after each map: min new position of its cells
    first_seen = np.full((len(boards), SIZE), CELLS)                        # (K, 6)
    for digit in DIGITS:
        cells = np.flatnonzero(puzzle == digit)
        if cells.size:
            first_seen[:, digit - 1] = _CELL_POSITIONS[:, cells].min(axis=1)
    rank = np.argsort(np.argsort(first_seen, axis=1, kind="stable"), axis=1)    # digit -> new label - 1
    relabel = np.concatenate([np.zeros((len(boards), 1), np.int64), rank + 1], axis=1)
    canon = np.take_along_axis(relabel, boards, axis=1)                     # (K, 36)
    # lexicographic min via two base-7 integers (18 cells each fit in int64)
    powers = (SIZE + 1) ** np.arange(CELLS // 2 - 1, -1, -1, dtype=np.int64)
    high, low = canon[:, :CELLS // 2] @ powers, canon[:, CELLS // 2:] @ powers
    best = np.lexsort((low, high))[0]
    return canon[best].astype(np.uint8).tobytes()


def augment(puzzles: np.ndarray, solutions: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random symmetry per row (digit relabelling + cell map), applied to puzzle and solution alike."""
    # puzzles, solutions: (B, 36) -> (B, 36)
    batch = len(puzzles)
    maps = CELL_MAPS[rng.integers(len(CELL_MAPS), size=batch)]             # (B, 36)
    relabels = np.concatenate([np.zeros((batch, 1), np.int64),
                               rng.permuted(np.tile(np.arange(1, SIZE + 1), (batch, 1)), axis=1)], axis=1)
    new_puzzles = np.take_along_axis(relabels, np.take_along_axis(puzzles, maps, axis=1), axis=1)
    new_solutions = np.take_along_axis(relabels, np.take_along_axis(solutions, maps, axis=1), axis=1)
    return new_puzzles, new_solutions


# --- data sets ---

@dataclass
class PuzzleSet:
    puzzles: np.ndarray       # (N, 36) 0 = blank
    solutions: np.ndarray     # (N, 36) digits 1..6
    difficulty: np.ndarray    # (N,) rounds of singles
    orbit: list[bytes]        # canonical form of each puzzle

    def __len__(self) -> int:
        return len(self.puzzles)


def _distinct_orbits(seed: int):
    """(puzzle, solution, difficulty, orbit) from one seeded stream, skipping orbits already drawn."""
    rng = np.random.default_rng([seed, 7606])
    seen = set()
    while True:
        puzzle, solution = generate_puzzle(rng)
        orbit = canonical_form(puzzle)
        if orbit not in seen:
            seen.add(orbit)
            yield puzzle, solution, difficulty(puzzle), orbit


def _pack(rows) -> PuzzleSet:
    return PuzzleSet(np.array([r[0] for r in rows], dtype=np.int64).reshape(-1, CELLS),
                     np.array([r[1] for r in rows], dtype=np.int64).reshape(-1, CELLS),
                     np.array([r[2] for r in rows], dtype=np.int64), [r[3] for r in rows])


def make_split(n_train: int, n_test: int, seed: int) -> tuple[PuzzleSet, PuzzleSet]:
    """Train and held-out sets of distinct orbits; no held-out puzzle is a symmetry of a training one.

    The first n_test orbits of the seeded stream are held out, the next n_train
    train, so the held-out set does not depend on n_train. Same seed -> same sets.
    """
    rows = list(itertools.islice(_distinct_orbits(seed), n_test + n_train))
    return _pack(rows[n_test:]), _pack(rows[:n_test])


def held_out_set(n_test: int, seed: int) -> PuzzleSet:
    """The first n_test held-out puzzles of `make_split(..., seed)`, without generating the training set."""
    return _pack(list(itertools.islice(_distinct_orbits(seed), n_test)))
