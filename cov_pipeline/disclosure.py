"""Statistical disclosure control for the ``published`` tier: one engine, and the intruder's audit.

The team's marts keep full detail; a published table is derived from a mart and declares its
structure (:class:`TableSpec`): its counts and what is computed from them, the totals its
categories add up to (:class:`Margin`), its period hierarchy (:class:`Periods`), identities
between its counts (:class:`Identity`), SPC series (:class:`Series`), survey bases
(:class:`Base`), and the cells it shares with other published tables (:class:`Link`). Every
declared relation becomes a linear equation over the cells (one count of one row).

- **Primary**: a count of 1 to ``threshold`` (7) is withheld, with every figure computed from it
  or from the count it is a share of (rates, percentages, CIs); a survey estimate whose
  unweighted base is under ``min_base`` is withheld.
- **Secondary**: cells chosen so that no withheld cell can be worked out from the published ones
  through any combination of the declared relations. An equation with one withheld cell gives
  it away, so another cell of it is withheld (the smallest, preferring a non-zero count), across
  all relations at once until none is left; then the audit runs, and where it still finds a cell
  pinned or a small count too narrowly bounded, the equation that binds it gives up another cell,
  until the audit passes.
- **Audit** (:func:`audit`): the intruder's view, as tau-ARGUS and sdcTable audit tables. Knowing
  every published cell, every declared relation and that counts are not negative, the feasible
  interval of each withheld cell is found by linear programming (SciPy's HiGHS: minimise and
  maximise it). It fails where a withheld cell is pinned to one value, or where a primary cell's
  interval is narrower than ``protection`` (default 7: an intruder cannot narrow a small count
  to fewer than 8 possible values).
- **Rounding** (``policy="round"``), NHS England's practice, instead of suppressing: every count
  to the nearest 5; rates and CIs are then computed by the mart from unrounded counts, so they
  are withheld where the count is 1-7. The audit bounds each rounded cell by ±2 and fails where a
  count of 1-7 is pinned.
- Values already public (Fingertips, MSDS: :attr:`Count.public`) pass through and bind the
  intruder like any published cell.

Dagster-free; ``docs/disclosure.md`` explains the rules for analysts and how to publish a table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

SMALL_COUNT_MIN = 1
SMALL_COUNT_MAX = 7
ROUNDING_BASE = 5
# A survey estimate needs at least this many respondents (unweighted) to be published: the
# minimum the team's survey mart already applies for reliability (docs/disclosure.md).
DEFAULT_MIN_BASE = 50
MAX_ROUNDS = 200


# -- rules -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rules:
    """Thresholds of the disclosure rules (``docs/disclosure.md`` says why each default)."""

    threshold: int = SMALL_COUNT_MAX
    protection: int = SMALL_COUNT_MAX
    min_base: int = DEFAULT_MIN_BASE
    rounding_base: int = ROUNDING_BASE


DEFAULT_RULES = Rules()


def is_small_count(counts: pd.Series, threshold: int = SMALL_COUNT_MAX) -> pd.Series:
    """True for a count from 1 to ``threshold`` inclusive (zero is not disclosive and is shown)."""
    numbers = pd.to_numeric(counts, errors="coerce")
    return (numbers >= SMALL_COUNT_MIN) & (numbers <= threshold)


def round_counts(values: pd.Series, base: int = ROUNDING_BASE) -> pd.Series:
    """Round to the nearest ``base`` (halves away from zero), keeping nulls null."""
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    rounded = np.sign(numbers) * np.floor(np.abs(numbers) / base + 0.5) * base
    return pd.Series(rounded, index=values.index).astype("Int64")


# -- declarations ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Count:
    """A count column, the count it is a share of, and the columns computed from it (withheld
    with it, or with its denominator). ``public``: already published by its source, never
    withheld."""

    column: str
    denominator: str | None = None
    derived: tuple[str, ...] = ()
    public: bool = False


@dataclass(frozen=True)
class Margin:
    """Rows whose ``category`` is one of ``parts`` (default: any but ``total``) add up, within
    each value of ``family`` and of the other key columns, to the row whose ``category`` is
    ``total`` with the same other keys (e.g. the ethnic groups of a month to its All row)."""

    category: str
    total: str
    family: str | None = None
    parts: tuple[str, ...] | None = None
    counts: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Periods:
    """Rows of a shorter period add up to the row of the longer period holding them, where both
    are published (months to quarters, quarters to years)."""

    type_column: str = "period_type"
    start_column: str = "period_start"
    levels: tuple[tuple[str, str, str], ...] = (("month", "quarter", "Q"), ("quarter", "year", "Y"))


@dataclass(frozen=True)
class Identity:
    """Within a row, ``total`` = the sum of ``parts`` (live births + stillbirths = births)."""

    total: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Series:
    """SPC columns of one chart per value of ``by``, over the rows ``rows`` selects. They are
    aggregates over the whole series (a centre line is a mean), so they are published only for a
    series all of whose points are published: else a centre over withheld points gives away
    their sum."""

    columns: tuple[str, ...]
    counts: tuple[str, ...]
    by: tuple[str, ...]
    rows: Callable[[pd.DataFrame], pd.Series] | None = None


@dataclass(frozen=True)
class Base:
    """Survey estimates (``columns``) withheld where the unweighted base ``count`` is under the
    minimum base, or is itself withheld."""

    count: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    """How one published table is made from its mart and what binds its cells."""

    name: str
    keys: tuple[str, ...]
    counts: tuple[Count, ...]
    select: Callable[[pd.DataFrame], pd.DataFrame] = lambda frame: frame
    margins: tuple[Margin, ...] = ()
    periods: Periods | None = None
    identities: tuple[Identity, ...] = ()
    series: tuple[Series, ...] = ()
    bases: tuple[Base, ...] = ()
    policy: str = "suppress"
    flag_column: str = "is_suppressed"
    description: str = ""

    def count(self, column: str) -> Count:
        return next(c for c in self.counts if c.column == column)


@dataclass(frozen=True)
class Link:
    """Cells bound across published tables: each ``left`` cell equals the sum of the ``right``
    cells (of one or more count columns) whose keys ``on`` match, after ``right_map`` relabels
    right values (e.g. the age bands 35-39, 40-44 and 45+ to '35 and over'), among the right
    rows ``right_where`` admits. One column on each side: the same cell published twice."""

    left: tuple[str, str]
    right: tuple[tuple[str, str], ...] | tuple[str, str]
    on: tuple[str, ...]
    right_where: Mapping[str, tuple] = field(default_factory=dict)
    left_where: Mapping[str, tuple] = field(default_factory=dict)
    right_map: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def rights(self) -> tuple[tuple[str, str], ...]:
        if isinstance(self.right[0], str):
            return (self.right,)  # type: ignore[return-value]
        return self.right  # type: ignore[return-value]


# -- cells and equations -----------------------------------------------------------------------
@dataclass
class Cells:
    """Every count of every table as one vector, and the declared relations as ``A x = 0``."""

    table: np.ndarray
    row: np.ndarray
    column: np.ndarray
    value: np.ndarray
    public: np.ndarray
    offsets: dict[tuple[str, str], int]
    rows: dict[str, int]
    equations: sparse.csr_matrix

    def ids(self, table: str, column: str) -> np.ndarray:
        start = self.offsets[(table, column)]
        return np.arange(start, start + self.rows[table])


def _frame_keys(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One hashable key per row (columns joined), for matching rows across relations."""
    if not columns:
        return pd.Series(np.zeros(len(frame), dtype=np.int64), index=frame.index)
    return pd.Series(pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy())


Relation = list[tuple[np.ndarray, np.ndarray, float]]
"""Triplets ``(equation numbers, cell ids, coefficient)`` numbering their equations from 0."""


def _group_sums(
    part_rows: np.ndarray,
    part_group: np.ndarray,
    total_rows: np.ndarray,
    total_group: np.ndarray,
    part_ids: Sequence[np.ndarray],
    total_ids: Sequence[np.ndarray],
) -> list[Relation]:
    """For each pair of id arrays (one count), equations ``sum(parts of g) - total(g) = 0`` for
    the groups ``g`` having both a total row and a part."""
    total_of = pd.Series(np.asarray(total_rows), index=np.asarray(total_group))
    total_of = total_of[~total_of.index.duplicated()]
    parts = pd.DataFrame({"row": np.asarray(part_rows), "group": np.asarray(part_group)})
    parts["total"] = parts["group"].map(total_of)
    parts = parts.dropna(subset=["total"])
    if parts.empty:
        return []
    parts["eq"] = pd.factorize(parts["group"])[0]
    first = parts.drop_duplicates("eq")
    part_rows_, part_eq = parts["row"].to_numpy(), parts["eq"].to_numpy()
    total_rows_, total_eq = first["total"].astype(np.int64).to_numpy(), first["eq"].to_numpy()
    return [
        [(part_eq, p_ids[part_rows_], 1.0), (total_eq, t_ids[total_rows_], -1.0)]
        for p_ids, t_ids in zip(part_ids, total_ids, strict=True)
    ]


def build_cells(
    frames: Mapping[str, pd.DataFrame], specs: Sequence[TableSpec], links: Sequence[Link] = ()
) -> Cells:
    """Cells of every count of every table (rows in the frames' order) and the equations of
    every declared relation among them."""
    parts: dict[str, list] = {k: [] for k in ("table", "row", "column", "value", "public")}
    offsets: dict[tuple[str, str], int] = {}
    rows: dict[str, int] = {}
    position = 0
    for spec in specs:
        frame = frames[spec.name]
        n = len(frame)
        rows[spec.name] = n
        for count in spec.counts:
            offsets[(spec.name, count.column)] = position
            position += n
            parts["table"].append(np.full(n, spec.name, dtype=object))
            parts["row"].append(np.arange(n))
            parts["column"].append(np.full(n, count.column, dtype=object))
            numbers = pd.to_numeric(frame[count.column], errors="coerce").astype("float64")
            parts["value"].append(numbers.to_numpy())
            parts["public"].append(np.full(n, count.public))
    empty = {"table": object, "row": np.int64, "column": object, "value": float, "public": bool}
    arrays = {k: np.concatenate(v) if v else np.array([], dtype=empty[k]) for k, v in parts.items()}
    cells = Cells(**arrays, offsets=offsets, rows=rows, equations=sparse.csr_matrix((0, position)))
    relations: list[Relation] = []
    for spec in specs:
        relations.extend(_table_relations(frames[spec.name].reset_index(drop=True), spec, cells))
    for link in links:
        relations.extend(_link_relations(frames, link, cells))
    cells.equations = _assemble(relations, position, cells.value)
    return cells


def _table_relations(frame: pd.DataFrame, spec: TableSpec, cells: Cells) -> list[Relation]:
    relations: list[Relation] = []
    all_counts = [c.column for c in spec.counts]

    def ids(columns):
        return [cells.ids(spec.name, c) for c in columns]

    for margin in spec.margins:
        counts = list(margin.counts or all_counts)
        others = [k for k in spec.keys if k not in (margin.category, margin.family)]
        is_total = frame[margin.category].eq(margin.total).to_numpy()
        is_part = ~is_total
        if margin.parts is not None:
            is_part &= frame[margin.category].isin(margin.parts).to_numpy()
        families = [*others, margin.family] if margin.family else others
        part_group = _frame_keys(frame[is_part], families).to_numpy()
        part_total = _frame_keys(frame[is_part], others).to_numpy()
        total_row = pd.Series(
            np.flatnonzero(is_total), index=_frame_keys(frame[is_total], others).to_numpy()
        )
        total_row = total_row[~total_row.index.duplicated()]
        group_total = pd.Series(part_total, index=part_group)
        group_total = group_total[~group_total.index.duplicated()].map(total_row).dropna()
        relations.extend(
            _group_sums(
                np.flatnonzero(is_part),
                part_group,
                group_total.astype(np.int64).to_numpy(),
                group_total.index.to_numpy(),
                ids(counts),
                ids(counts),
            )
        )
    if spec.periods is not None:
        p = spec.periods
        others = [k for k in spec.keys if k not in (p.type_column, p.start_column)]
        start = pd.to_datetime(frame[p.start_column]).astype("datetime64[ns]")
        for smaller, larger, freq in p.levels:
            is_part = frame[p.type_column].eq(smaller).to_numpy()
            is_total = frame[p.type_column].eq(larger).to_numpy()
            parent = start.dt.to_period(freq).dt.start_time.astype("datetime64[ns]")
            part_key = _frame_keys(frame[is_part].assign(_s=parent[is_part]), [*others, "_s"])
            total_key = _frame_keys(frame[is_total].assign(_s=start[is_total]), [*others, "_s"])
            relations.extend(
                _group_sums(
                    np.flatnonzero(is_part),
                    part_key.to_numpy(),
                    np.flatnonzero(is_total),
                    total_key.to_numpy(),
                    ids(all_counts),
                    ids(all_counts),
                )
            )
    eq = np.arange(len(frame))
    for identity in spec.identities:
        relation = [(eq, cells.ids(spec.name, identity.total), -1.0)]
        relations.append(relation + [(eq, i, 1.0) for i in ids(identity.parts)])
    return relations


def _link_relations(frames: Mapping[str, pd.DataFrame], link: Link, cells: Cells) -> list:
    """One equation per admitted left row: the sum of its matching right cells minus it."""
    left_table, left_col = link.left
    left = frames[left_table].reset_index(drop=True)

    def admitted(frame, where):
        ok = np.ones(len(frame), dtype=bool)
        for column, values in where.items():
            ok &= frame[column].isin(values).to_numpy()
        return ok

    left_rows = np.flatnonzero(admitted(left, link.left_where))
    eq_of = pd.Series(
        np.arange(len(left_rows)), index=_frame_keys(left.iloc[left_rows], link.on).to_numpy()
    )
    eq_of = eq_of[~eq_of.index.duplicated()]
    relation = [(np.arange(len(left_rows)), cells.ids(left_table, left_col)[left_rows], -1.0)]
    tables = {t for t, _ in link.rights}
    for table in tables:
        right = frames[table].reset_index(drop=True)
        rows = np.flatnonzero(admitted(right, link.right_where))
        keys = right.iloc[rows][list(link.on)].copy()
        for column, mapping in link.right_map.items():
            keys[column] = keys[column].replace(dict(mapping))
        eq = pd.Series(_frame_keys(keys, link.on).to_numpy()).map(eq_of)
        matched = eq.notna().to_numpy()
        for t, column in link.rights:
            if t == table:
                ids = cells.ids(table, column)[rows[matched]]
                relation.append((eq[matched].astype(np.int64).to_numpy(), ids, 1.0))
    return [relation]


def _assemble(relations: list[Relation], n_cells: int, values: np.ndarray) -> sparse.csr_matrix:
    """One sparse matrix of every relation's equations. An equation touching a missing value
    (null: unknown to the mart itself) is dropped: it cannot hold as stated, and gives nothing
    away; so is one that does not hold on the mart's values (a declared relation the data does
    not keep, e.g. a total that also counts records of no category), which an intruder could not
    use either."""
    rows, cols, vals = [], [], []
    offset = 0
    for relation in relations:
        size = 0
        for eq, ids, coef in relation:
            if len(eq):
                rows.append(eq + offset)
                cols.append(ids)
                vals.append(np.full(len(ids), coef))
                size = max(size, int(eq.max()) + 1)
        offset += size
    if not rows:
        return sparse.csr_matrix((0, n_cells))
    matrix = sparse.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(offset, n_cells),
    ).tocsr()
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    missing = np.isnan(values)
    touches_missing = (abs(matrix) @ missing.astype(float)) > 0
    residual = np.abs(matrix @ np.nan_to_num(values)) > 1e-6
    keep = (np.diff(matrix.indptr) > 1) & ~touches_missing & ~residual
    return matrix[keep]


# -- primary and secondary suppression ---------------------------------------------------------
def primary_cells(cells: Cells, rules: Rules = DEFAULT_RULES) -> np.ndarray:
    """Counts of 1 to ``threshold`` that are not already public."""
    v = cells.value
    return (v >= SMALL_COUNT_MIN) & (v <= rules.threshold) & ~cells.public


def _close_singletons(matrix: sparse.csr_matrix, cells: Cells, withheld: np.ndarray) -> np.ndarray:
    """Withhold more cells until no equation has exactly one withheld cell: in each such
    equation, its smallest shown cell that is not public, preferring a non-zero count."""
    pattern = abs(matrix).astype(bool).astype(np.int8).tocsr()
    withheld = withheld.copy()
    for _ in range(MAX_ROUNDS):
        per_eq = pattern @ withheld.astype(np.int64)
        exposed = np.flatnonzero(per_eq == 1)
        if not len(exposed):
            return withheld
        changed = False
        for eq in exposed:
            members = pattern.indices[pattern.indptr[eq] : pattern.indptr[eq + 1]]
            if withheld[members].sum() != 1:  # already mended this round
                continue
            choice = _cheapest(members, cells, withheld)
            if choice is not None:
                withheld[choice] = True
                changed = True
        if not changed:
            return withheld
    raise RuntimeError(f"secondary suppression did not settle in {MAX_ROUNDS} rounds")


def _cheapest(members: np.ndarray, cells: Cells, withheld: np.ndarray) -> int | None:
    """The shown, non-public cell of ``members`` whose withholding costs least: the smallest
    non-zero count (a zero protects nothing a reader could not guess), then the first."""
    candidates = members[~withheld[members] & ~cells.public[members]]
    if not len(candidates):
        return None
    v = cells.value[candidates]
    order = np.lexsort((candidates, v, v == 0))
    return int(candidates[order[0]])


def suppress(
    cells: Cells, rules: Rules = DEFAULT_RULES, primary: np.ndarray | None = None
) -> Decision:
    """Primary and secondary suppression over every declared relation at once (see the module
    docstring): the withheld cells, with the audit that shows no one can be recovered."""
    primary = primary_cells(cells, rules) if primary is None else primary
    withheld = primary.copy()
    matrix = cells.equations
    by_cell = matrix.tocsc()
    for _ in range(MAX_ROUNDS):
        withheld = _close_singletons(matrix, cells, withheld)
        result = audit(cells, withheld, primary, rules)
        failing = result.loc[~result["passes"], "cell"].to_numpy()
        if not len(failing):
            return Decision(primary, withheld, result)
        added = False
        for cell in failing:
            choice = _widen(matrix, by_cell, cells, withheld, int(cell))
            if choice is not None and not withheld[choice]:
                withheld[choice] = True
                added = True
        if not added:
            return Decision(primary, withheld, result)
    raise RuntimeError(f"secondary suppression did not pass the audit in {MAX_ROUNDS} rounds")


def _widen(
    matrix: sparse.csr_matrix,
    by_cell: sparse.csc_matrix,
    cells: Cells,
    withheld: np.ndarray,
    cell: int,
) -> int | None:
    """A cell to withhold so that ``cell`` is less tightly bound: the cheapest shown cell of the
    equation binding it with the fewest withheld cells; where every cell of its equations is
    withheld already, the search goes on through the equations of those cells (breadth first)."""
    seen_cells, frontier = {cell}, [cell]
    for _ in range(MAX_ROUNDS):
        best, best_hidden, reached = None, None, []
        for current in frontier:
            for eq in by_cell.indices[by_cell.indptr[current] : by_cell.indptr[current + 1]]:
                members = matrix.indices[matrix.indptr[eq] : matrix.indptr[eq + 1]]
                hidden_n = int(withheld[members].sum())
                choice = _cheapest(members, cells, withheld)
                if choice is not None and (best_hidden is None or hidden_n < best_hidden):
                    best, best_hidden = choice, hidden_n
                reached.extend(m for m in members[withheld[members]] if m not in seen_cells)
        if best is not None or not reached:
            return best
        seen_cells.update(reached)
        frontier = list(dict.fromkeys(reached))
    return None


# -- the audit ---------------------------------------------------------------------------------
@dataclass
class Decision:
    """What suppression decided: primary and withheld cells, and the audit of the result."""

    primary: np.ndarray
    withheld: np.ndarray
    audit: pd.DataFrame


def audit(
    cells: Cells,
    withheld: np.ndarray,
    primary: np.ndarray,
    rules: Rules = DEFAULT_RULES,
    bounds: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """The intruder's feasible interval of every withheld cell: minimise and maximise it subject
    to every declared relation, every shown cell at its value (or within ``bounds``, for rounded
    cells) and counts not negative. One row per withheld cell (``cell``, ``lower``, ``upper``,
    ``is_primary``, ``passes``): it fails where the interval is a single value, or where a
    primary cell's is narrower than ``rules.protection``."""
    matrix = cells.equations
    unknown = withheld & ~np.isnan(cells.value)
    if bounds is None:
        lo = np.where(unknown, 0.0, cells.value)
        hi = np.where(unknown, np.inf, cells.value)
    else:
        lo, hi = bounds
        lo = np.where(unknown, 0.0, lo)
        hi = np.where(unknown, np.inf, hi)
    free = unknown | (hi > lo)
    targets = np.flatnonzero(unknown) if bounds is None else np.flatnonzero(primary & free)
    rows = []
    if not len(targets):
        return _audit_frame(rows)
    # free cells joined by an equation form a component; each is solved on its own
    sub = matrix[:, free]
    free_ids = np.flatnonzero(free)
    touching = np.flatnonzero(np.diff(sub.tocsr().indptr) > 0)
    sub = sub[touching]
    fixed_part = matrix[touching][:, ~free] @ np.nan_to_num(cells.value[~free])
    graph = (sub.T @ sub).astype(bool)
    n_comp, label = connected_components(graph, directed=False)
    position = {cell: i for i, cell in enumerate(free_ids)}
    wanted = pd.Series([position[c] for c in targets], index=targets)
    eq_comp = None
    if sub.shape[0]:
        first_var = np.asarray(abs(sub).argmax(axis=1)).ravel()
        eq_comp = label[first_var]
    for comp, members in wanted.groupby(label[wanted.to_numpy()]):
        variables = np.flatnonzero(label == comp)
        equations = np.flatnonzero(eq_comp == comp) if eq_comp is not None else np.array([])
        var_lo = lo[free_ids[variables]]
        var_hi = hi[free_ids[variables]]
        index_of = {v: i for i, v in enumerate(variables)}
        if not len(equations):
            for cell, var in members.items():
                k = index_of[var]
                rows.append((cell, var_lo[k], var_hi[k], bool(primary[cell])))
            continue
        solver = _IntervalSolver(
            sub[equations][:, variables].tocsc(), -fixed_part[equations], var_lo, var_hi
        )
        for cell, var in members.items():
            low, high = solver.interval(index_of[var])
            rows.append((cell, low, high, bool(primary[cell])))
    frame = _audit_frame(rows)
    width = frame["upper"] - frame["lower"]
    pinned = width < 0.5
    narrow = frame["is_primary"] & (width < rules.protection)
    frame["passes"] = ~(pinned | narrow)
    return frame


def _audit_frame(rows) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["cell", "lower", "upper", "is_primary"])
    frame["passes"] = pd.Series(dtype=bool)
    return frame.astype({"cell": "int64", "lower": "float64", "upper": "float64"})


class _IntervalSolver:
    """min and max of each variable of one linear system ``A x = b, lo <= x <= hi``: the model
    is passed to HiGHS once and re-solved per objective from the last basis (warm start), which
    is what makes auditing thousands of cells affordable."""

    def __init__(self, a: sparse.csc_matrix, b: np.ndarray, lo: np.ndarray, hi: np.ndarray):
        import highspy

        self._highspy = highspy
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = a.shape[1], a.shape[0]
        lp.col_cost_ = np.zeros(a.shape[1])
        lp.col_lower_ = np.asarray(lo, dtype=float)
        lp.col_upper_ = np.where(np.isinf(hi), inf, hi).astype(float)
        lp.row_lower_ = lp.row_upper_ = np.asarray(b, dtype=float)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = a.indices.astype(np.int32)
        lp.a_matrix_.value_ = a.data.astype(float)
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        self.h.passModel(lp)
        self._costed: int | None = None

    def _solve(self, k: int, sense) -> float:
        h, hs = self.h, self._highspy
        if self._costed != k:
            if self._costed is not None:
                h.changeColCost(self._costed, 0.0)
            h.changeColCost(k, 1.0)
            self._costed = k
        h.changeObjectiveSense(sense)
        h.run()
        status = h.getModelStatus()
        if status == hs.HighsModelStatus.kOptimal:
            return float(h.getInfo().objective_function_value)
        if status == hs.HighsModelStatus.kUnbounded:
            return np.inf if sense == hs.ObjSense.kMaximize else -np.inf
        raise RuntimeError(
            f"disclosure audit: linear program ended {h.modelStatusToString(status)}"
        )

    def interval(self, k: int) -> tuple[float, float]:
        sense = self._highspy.ObjSense
        return self._solve(k, sense.kMinimize), self._solve(k, sense.kMaximize)


# -- tables ------------------------------------------------------------------------------------
@dataclass
class Publication:
    """Published tables, what was withheld, the audit and the share withheld per table."""

    tables: dict[str, pd.DataFrame]
    cells: Cells
    decision: Decision
    summary: pd.DataFrame


def prepare(marts: Mapping[str, pd.DataFrame], specs: Sequence[TableSpec]) -> dict:
    """Each table as its spec selects it from its mart, rows in key order (so a published table
    read back lines up with the mart's cells)."""
    out = {}
    for spec in specs:
        frame = spec.select(marts[spec.name])
        out[spec.name] = frame.sort_values(list(spec.keys), kind="stable").reset_index(drop=True)
    return out


def publish(
    marts: Mapping[str, pd.DataFrame],
    specs: Sequence[TableSpec],
    links: Sequence[Link] = (),
    rules: Rules = DEFAULT_RULES,
) -> Publication:
    """The published tables of ``specs`` (derived from ``marts`` by name), protected together:
    cells shared through ``links`` carry the same flag. Counts of tables whose policy is
    ``round`` are rounded to the nearest ``rules.rounding_base`` and take no part in
    suppression (a rounded table is linked to no suppressed one)."""
    frames = prepare(marts, specs)
    _check_policies(specs, links)
    cells = build_cells(frames, specs, links)
    rounded = _rounded_cells(cells, specs)
    small = primary_cells(cells, rules)
    decision = suppress(cells, rules, small & ~rounded)
    if rounded.any():
        decision.audit = pd.concat(
            [decision.audit, audit_rounding(cells, small & rounded, rules)], ignore_index=True
        )
    tables = {
        spec.name: _apply(frames[spec.name], spec, cells, decision.withheld, small, rules)
        for spec in specs
    }
    return Publication(tables, cells, decision, summarise(tables, specs, decision, cells))


def _check_policies(specs: Sequence[TableSpec], links: Sequence[Link]) -> None:
    policy = {s.name: s.policy for s in specs}
    for spec in specs:
        if spec.policy not in ("suppress", "round"):
            raise ValueError(f"{spec.name}: policy {spec.policy!r} is not suppress or round")
    for link in links:
        for right, _ in link.rights:
            if policy[link.left[0]] != policy[right]:
                raise ValueError(
                    f"{link.left[0]} and {right} share cells but one is rounded and the other "
                    "suppressed: publish them under one policy"
                )


def _rounded_cells(cells: Cells, specs: Sequence[TableSpec]) -> np.ndarray:
    rounded = np.zeros(len(cells.value), dtype=bool)
    for spec in specs:
        if spec.policy == "round":
            for count in spec.counts:
                if not count.public:
                    rounded[cells.ids(spec.name, count.column)] = True
    return rounded


def audit_rounding(cells: Cells, small: np.ndarray, rules: Rules = DEFAULT_RULES) -> pd.DataFrame:
    """Audit of rounded cells: each known only to ±``base // 2`` of its rounded value; fails
    where a count of 1-7 is pinned by the relations."""
    half = rules.rounding_base // 2
    shown = round_counts(pd.Series(cells.value), rules.rounding_base).astype("float64").to_numpy()
    exact = cells.public | np.isnan(cells.value)
    lo = np.where(exact, cells.value, np.maximum(shown - half, 0.0))
    hi = np.where(exact, cells.value, shown + half)
    return audit(cells, np.zeros(len(lo), dtype=bool), small, Rules(protection=1), (lo, hi))


def _apply(
    frame: pd.DataFrame,
    spec: TableSpec,
    cells: Cells,
    withheld: np.ndarray,
    small: np.ndarray,
    rules: Rules,
) -> pd.DataFrame:
    """The published frame: withheld counts and what is computed from them null, SPC columns
    null for a series with a withheld point, estimates on small bases null, counts of a rounded
    table rounded; ``flag_column`` marks a row with anything withheld."""
    out = frame.copy()
    n = len(out)
    hidden: dict[str, np.ndarray] = {}
    for count in spec.counts:
        ids = cells.ids(spec.name, count.column)
        rounded = spec.policy == "round" and not count.public
        # a rounded count is shown, but its rates would give it back where it is small
        hidden[count.column] = small[ids] if rounded else withheld[ids]
    flag = np.zeros(n, dtype=bool)
    for count in spec.counts:
        own = hidden[count.column]
        derived = own | (hidden[count.denominator] if count.denominator else False)
        if spec.policy == "round" and not count.public:
            out[count.column] = round_counts(out[count.column], rules.rounding_base)
        else:
            out[count.column] = _mask(out[count.column], own).astype("Int64")
            flag |= own
        for column in count.derived:
            out[column] = _mask(out[column], derived)
        if count.derived:
            flag |= derived
    for base in spec.bases:
        n_base = pd.to_numeric(frame[base.count], errors="coerce")
        low = (n_base < rules.min_base).fillna(True).to_numpy(dtype=bool) | hidden[base.count]
        for column in base.columns:
            out[column] = _mask(out[column], low)
        flag |= low
    for series in spec.series:
        in_series = (
            series.rows(frame).to_numpy(dtype=bool) if series.rows else np.ones(n, dtype=bool)
        )
        point_hidden = np.zeros(n, dtype=bool)
        for column in series.counts:
            point_hidden |= hidden[column]
        key = _frame_keys(frame, series.by).to_numpy()
        spoilt = np.isin(key, np.unique(key[in_series & point_hidden]))
        for column in series.columns:
            out[column] = _mask(out[column], (in_series & spoilt) | ~in_series)
        flag |= in_series & spoilt
    out[spec.flag_column] = flag
    return out


def _mask(column: pd.Series, hidden: np.ndarray) -> pd.Series:
    if column.dtype == bool:
        column = column.astype("boolean")
    elif pd.api.types.is_integer_dtype(column.dtype):
        column = column.astype("Int64")
    return column.mask(pd.Series(np.asarray(hidden, dtype=bool), index=column.index))


def summarise(
    tables: Mapping[str, pd.DataFrame],
    specs: Sequence[TableSpec],
    decision: Decision,
    cells: Cells,
) -> pd.DataFrame:
    """Per table: rows, count cells, withheld (primary and secondary), the share withheld, rows
    with anything withheld, and the audit's failures."""
    rows = []
    failing = np.zeros(len(cells.value), dtype=bool)
    failing[decision.audit.loc[~decision.audit["passes"].astype(bool), "cell"].to_numpy()] = True
    for spec in specs:
        ids = np.concatenate([cells.ids(spec.name, c.column) for c in spec.counts])
        known = ~np.isnan(cells.value[ids])
        withheld = decision.withheld[ids] & known
        primary = decision.primary[ids] & known
        table = tables[spec.name]
        rows.append(
            {
                "table_name": spec.name,
                "policy": spec.policy,
                "rows": len(table),
                "rows_with_withheld": int(table[spec.flag_column].sum()),
                "count_cells": int(known.sum()),
                "withheld_cells": int(withheld.sum()),
                "primary_cells": int(primary.sum()),
                "secondary_cells": int((withheld & ~primary).sum()),
                "withheld_share": float(withheld.sum() / known.sum()) if known.any() else 0.0,
                "rows_withheld_share": float(table[spec.flag_column].mean()) if len(table) else 0.0,
                "audit_failures": int(failing[ids].sum()),
            }
        )
    return pd.DataFrame(rows)


def observe(
    published: Mapping[str, pd.DataFrame],
    marts: Mapping[str, pd.DataFrame],
    specs: Sequence[TableSpec],
    links: Sequence[Link] = (),
    rules: Rules = DEFAULT_RULES,
) -> tuple[Cells, Decision, np.ndarray]:
    """What an intruder faces in published tables as they stand in the warehouse: the cells
    (values from the marts), which are withheld (null in ``published``, known to the marts) and
    which primary (the marts' counts of 1-7), with the audit of them; and the shown values."""
    truth = prepare(marts, specs)
    for spec in specs:
        if len(published[spec.name]) != len(truth[spec.name]):
            raise ValueError(
                f"published.{spec.name} has {len(published[spec.name])} rows where its mart "
                f"gives {len(truth[spec.name])}: rebuild it"
            )
    shown = {
        s.name: published[s.name].sort_values(list(s.keys), kind="stable").reset_index(drop=True)
        for s in specs
    }
    cells = build_cells(truth, specs, links)
    values = [
        pd.to_numeric(shown[s.name][c.column], errors="coerce").to_numpy("float64")
        for s in specs
        for c in s.counts
    ]
    published_value = np.concatenate(values) if values else np.array([])
    rounded = _rounded_cells(cells, specs)
    small = primary_cells(cells, rules)
    withheld = np.isnan(published_value) & ~np.isnan(cells.value) & ~rounded
    frame = audit(cells, withheld, small & ~rounded, rules)
    if rounded.any():
        frame = pd.concat([frame, audit_rounding(cells, small & rounded, rules)])
    leaked = np.flatnonzero(small & ~rounded & ~np.isnan(published_value))
    if len(leaked):
        leaks = _audit_frame([(c, cells.value[c], cells.value[c], True) for c in leaked])
        leaks["passes"] = False
        frame = pd.concat([frame, leaks], ignore_index=True)
    frame = describe_cells(frame, cells, truth, specs)
    return cells, Decision(small & ~rounded, withheld, frame), published_value


def audit_published(
    published: Mapping[str, pd.DataFrame],
    marts: Mapping[str, pd.DataFrame],
    specs: Sequence[TableSpec],
    links: Sequence[Link] = (),
    rules: Rules = DEFAULT_RULES,
) -> pd.DataFrame:
    """The intruder's audit of published tables as they stand in the warehouse (:func:`observe`):
    one row per withheld (or, for a rounded table, small) cell with its table, row keys, column,
    interval and verdict; and one failing row per count of 1-7 shown in a suppressed table."""
    return observe(published, marts, specs, links, rules)[1].audit


def describe_cells(
    frame: pd.DataFrame,
    cells: Cells,
    frames: Mapping[str, pd.DataFrame],
    specs: Sequence[TableSpec],
) -> pd.DataFrame:
    """Audit rows named for people: table, the row's keys as text, the column and the value."""
    keys = {s.name: list(s.keys) for s in specs}
    ids = frame["cell"].to_numpy(dtype=np.int64)
    tables, rows = cells.table[ids], cells.row[ids]
    labels = [
        ", ".join(f"{k}={frames[t].at[r, k]}" for k in keys[t])
        for t, r in zip(tables, rows, strict=True)
    ]
    out = frame.reset_index(drop=True).assign(
        table_name=tables, row_keys=labels, column_name=cells.column[ids], value=cells.value[ids]
    )
    out["passes"] = out["passes"].astype(bool)
    return out
