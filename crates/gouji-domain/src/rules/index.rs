//! A per-validation index over a [`Report`]'s facts and tables.
//!
//! [`Report::fact`] is a linear scan; every rule looks cells up many times, so `validate()` builds
//! one [`FactIndex`] and hands it to the rules. Keys borrow from the report (no string copies).
//! Lookups return exactly what the `Report` methods would: the *first* fact at a key, the *first*
//! table with an id, facts and row keys in document order.
//!
//! It also holds the folded (matching) form of every narrative figure label and section heading,
//! which narrative rules compare many times. Headings keep the set of their byte values
//! ([`Folded`]), so that most heading × keyword tests ([`Key`]) need no substring search; labels
//! are mostly tested once or twice, where building the set would cost more than it saves.
//!
//! The index dereferences to the report, so rules read `ix.figures`, `ix.kind`, … directly while
//! `ix.fact(..)`, `ix.value(..)`, `ix.table(..)` and `ix.facts_of(..)` use the index.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Deref;

use rust_decimal::Decimal;

use super::Location;
use crate::model::{Fact, Figure, Report, Table};
use crate::parse::text::{fold, fold_cow, has};

/// A small, fast, non-cryptographic hasher (the Fx hash used by rustc) for short string keys
/// that come from one trusted report. HashDoS is not a concern: an index lives for one call.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// The set of byte values (mod 128) that occur in `s`. A needle can only occur in a text whose
/// set contains the needle's set, which rules out most (text, keyword) pairs without a search.
pub(crate) const fn byte_set(s: &str) -> u128 {
    let b = s.as_bytes();
    let mut set = 0u128;
    let mut i = 0;
    while i < b.len() {
        set |= 1 << (b[i] & 127);
        i += 1;
    }
    set
}

/// A keyword with its [`byte_set`], for repeated `contains` tests against [`Folded`] texts.
/// Write keywords as `kw!("三公")` so the set is computed at compile time.
pub(crate) struct Key {
    pub(crate) text: &'static str,
    bytes: u128,
}

impl Key {
    pub(crate) const fn new(text: &'static str) -> Key {
        Key {
            text,
            bytes: byte_set(text),
        }
    }
}

/// `&Key` for a string literal, built at compile time.
macro_rules! kw {
    ($text:literal) => {
        &const { $crate::rules::index::Key::new($text) }
    };
}
pub(crate) use kw;

/// A folded label or heading with its [`byte_set`].
pub(crate) struct Folded<'a> {
    text: Cow<'a, str>,
    bytes: u128,
}

impl<'a> Folded<'a> {
    pub(crate) fn new(text: Cow<'a, str>) -> Self {
        let bytes = byte_set(&text);
        Folded { text, bytes }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// `self.as_str().contains(k.text)` (searched with [`has`], which builds no searcher).
    #[inline]
    pub(crate) fn contains(&self, k: &Key) -> bool {
        k.bytes & !self.bytes == 0 && has(&self.text, k.text)
    }
}

/// What the index knows about one table id.
#[derive(Default)]
pub(crate) struct TableEntry<'a> {
    /// The first table printed with this id.
    table: Option<&'a Table>,
    /// Facts of this table, in document order.
    facts: Vec<&'a Fact>,
    /// Row keys that carry facts, in first-seen order.
    rows: Vec<&'a str>,
    /// Row key → position in `rows`.
    row_pos: FxMap<&'a str, u32>,
    /// Column keys that carry facts, in first-seen order (a table has a dozen at most, so a
    /// linear search beats hashing).
    columns: Vec<&'a str>,
    /// `rows × columns` grid of the first fact at each cell.
    grid: Vec<Option<&'a Fact>>,
}

impl<'a> TableEntry<'a> {
    #[inline]
    fn column_pos(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == column)
    }

    /// Position of `row` among the row keys.
    #[inline]
    pub(crate) fn row_index(&self, row: &str) -> Option<usize> {
        self.row_pos.get(row).map(|&r| r as usize)
    }

    /// Position of `column` among the column keys.
    #[inline]
    pub(crate) fn column_index(&self, column: &str) -> Option<usize> {
        self.column_pos(column)
    }

    /// The first fact at (row position, column position).
    #[inline]
    pub(crate) fn at(&self, row: usize, column: usize) -> Option<&'a Fact> {
        self.grid
            .get(row * self.columns.len() + column)
            .copied()
            .flatten()
    }

    /// The first fact at (row, column) of this table.
    #[inline]
    pub(crate) fn get(&self, row: &str, column: &str) -> Option<&'a Fact> {
        let r = *self.row_pos.get(row)? as usize;
        let c = self.column_pos(column)?;
        self.grid[r * self.columns.len() + c]
    }
}

/// A table entry under construction: id, entry, (row, column) position of each of its facts.
type Building<'a> = (&'a str, TableEntry<'a>, Vec<(u32, u32)>);

/// Borrowed lookup tables over one report, built once per `validate()` call.
pub struct FactIndex<'a> {
    report: &'a Report,
    tables: FxMap<&'a str, TableEntry<'a>>,
    /// `fold(label)` of every figure, by position in `report.figures`, computed on first use.
    labels: Vec<OnceCell<Cow<'a, str>>>,
    /// `fold(heading)` of every section, by position in `report.sections`, computed on first use.
    headings: Vec<OnceCell<Folded<'a>>>,
    /// Whether any table has an unreadable cell (nearly never: then no lookup is needed).
    any_unreadable: bool,
}

impl<'a> FactIndex<'a> {
    /// Indexes `report` (one pass over its tables and facts).
    pub fn new(report: &'a Report) -> Self {
        // Entries are built in a vector (facts come grouped by table, so the previous fact's
        // table is nearly always the current one) and keyed by table id at the end.
        let mut ids: FxMap<&'a str, usize> = FxMap::default();
        ids.reserve(report.tables.len());
        let mut entries: Vec<Building<'a>> = Vec::with_capacity(report.tables.len());
        let mut slot = |id: &'a str, entries: &mut Vec<Building<'a>>| {
            *ids.entry(id).or_insert_with(|| {
                entries.push((id, TableEntry::default(), Vec::new()));
                entries.len() - 1
            })
        };
        for t in &report.tables {
            let k = slot(t.id.as_str(), &mut entries);
            let e = &mut entries[k].1;
            if e.table.is_none() {
                e.table = Some(t);
                // The printed rows are a good guess for the row keys that carry facts.
                e.rows.reserve(t.rows.len());
                e.row_pos.reserve(t.rows.len());
            }
        }
        // Pass 1: row and column keys, facts per table, and each fact's (row, column) position.
        // Facts come in runs of one table: each run is looked up and reserved for once.
        let mut rest = &report.facts[..];
        while let Some(first) = rest.first() {
            let table = first.table.as_str();
            let n = rest.iter().take_while(|f| f.table == table).count();
            let (run, next) = rest.split_at(n);
            rest = next;
            let k = slot(table, &mut entries);
            let (_, e, pos) = &mut entries[k];
            e.facts.reserve(n);
            pos.reserve(n);
            let mut last_row: Option<u32> = None;
            let mut last_col = usize::MAX;
            for f in run {
                e.facts.push(f);
                // Facts of one row are usually adjacent, and columns come in the same order.
                let r = match last_row {
                    Some(r) if e.rows[r as usize] == f.row => r,
                    _ => {
                        let n = e.rows.len() as u32;
                        let r = *e.row_pos.entry(f.row.as_str()).or_insert(n);
                        if r == n {
                            e.rows.push(f.row.as_str());
                        }
                        last_col = usize::MAX;
                        r
                    }
                };
                last_row = Some(r);
                let next = last_col.wrapping_add(1);
                let c = if e.columns.get(next).is_some_and(|c| *c == f.column) {
                    next
                } else {
                    match e.column_pos(&f.column) {
                        Some(c) => c,
                        None => {
                            e.columns.push(f.column.as_str());
                            e.columns.len() - 1
                        }
                    }
                };
                last_col = c;
                pos.push((r, c as u32));
            }
        }
        // Pass 2: the grid, first fact wins.
        let mut tables: FxMap<&'a str, TableEntry<'a>> = FxMap::default();
        tables.reserve(entries.len());
        for (id, mut e, pos) in entries {
            let width = e.columns.len();
            let mut grid = vec![None; e.rows.len() * width];
            for (f, &(r, c)) in e.facts.iter().zip(&pos) {
                let cell = &mut grid[r as usize * width + c as usize];
                if cell.is_none() {
                    *cell = Some(*f);
                }
            }
            e.grid = grid;
            tables.insert(id, e);
        }
        FactIndex {
            report,
            tables,
            labels: report.figures.iter().map(|_| OnceCell::new()).collect(),
            headings: report.sections.iter().map(|_| OnceCell::new()).collect(),
            any_unreadable: report.tables.iter().any(|t| !t.unreadable.is_empty()),
        }
    }

    /// The indexed report.
    pub fn report(&self) -> &'a Report {
        self.report
    }

    /// The table with this canonical id (as [`Report::table`]).
    pub fn table(&self, id: &str) -> Option<&'a Table> {
        self.tables.get(id).and_then(|e| e.table)
    }

    /// The fact at (table, row, column) (as [`Report::fact`]).
    pub fn fact(&self, table: &str, row: &str, column: &str) -> Option<&'a Fact> {
        self.tables.get(table).and_then(|e| e.get(row, column))
    }

    /// The entry of one table id, for repeated lookups in the same table.
    pub(crate) fn entry(&self, table: &str) -> Option<&TableEntry<'a>> {
        self.tables.get(table)
    }

    /// The value at (table, row, column); `None` when blank (as [`Report::value`]).
    pub fn value(&self, table: &str, row: &str, column: &str) -> Option<Decimal> {
        self.fact(table, row, column).map(|f| f.value)
    }

    /// Facts of one table, in document order (as [`Report::facts_of`]).
    pub fn facts_of(&self, table: &str) -> impl Iterator<Item = &'a Fact> + '_ {
        self.facts_slice(table).iter().copied()
    }

    /// Facts of one table as a slice, in document order.
    pub fn facts_slice(&self, table: &str) -> &[&'a Fact] {
        self.tables.get(table).map(|e| &e.facts[..]).unwrap_or(&[])
    }

    /// Row keys of a table that carry facts, in first-seen order.
    pub fn row_keys(&self, table: &str) -> &[&'a str] {
        self.tables.get(table).map(|e| &e.rows[..]).unwrap_or(&[])
    }

    /// Column keys of a table that carry facts, in first-seen order.
    pub fn column_keys(&self, table: &str) -> &[&'a str] {
        self.tables
            .get(table)
            .map(|e| &e.columns[..])
            .unwrap_or(&[])
    }

    /// True when some fact of `table` is in `column`.
    pub fn has_column(&self, table: &str, column: &str) -> bool {
        self.column_keys(table).contains(&column)
    }

    /// `fold(f.label)`, precomputed for the report's own figures.
    pub fn label(&self, f: &Figure) -> Cow<'_, str> {
        match self.figure_position(f) {
            Some(i) => {
                let label = &self.report.figures[i].label;
                Cow::Borrowed(self.labels[i].get_or_init(|| fold_cow(label)).as_ref())
            }
            None => Cow::Owned(fold(&f.label)),
        }
    }

    /// `fold(f.label).contains(k)`. Labels are long and mostly tested once or twice, so they
    /// keep no byte set: a plain search ([`has`], no searcher to build) is cheaper than building one.
    pub(crate) fn label_has(&self, f: &Figure, k: &Key) -> bool {
        has(&self.label(f), k.text)
    }

    /// `fold` of the heading of the section `f` belongs to ("" when it has none).
    pub fn heading(&self, f: &Figure) -> &str {
        self.section_heading(f.section)
    }

    /// `fold` of the heading of section `i` ("" when there is none).
    pub fn section_heading(&self, i: usize) -> &str {
        self.folded_heading(i).map_or("", Folded::as_str)
    }

    /// `fold` of the heading of section `i` with its byte set, when there is such a section.
    pub(crate) fn folded_heading(&self, i: usize) -> Option<&Folded<'a>> {
        match (self.headings.get(i), self.report.sections.get(i)) {
            (Some(cell), Some(s)) => Some(cell.get_or_init(|| Folded::new(fold_cow(&s.heading)))),
            _ => None,
        }
    }

    /// `self.section_heading(i).contains(k)` (false when there is no section `i`; keywords are
    /// never empty).
    pub(crate) fn heading_has(&self, i: usize, k: &Key) -> bool {
        self.folded_heading(i).is_some_and(|h| h.contains(k))
    }

    /// Position of `f` in `report.figures` when it is one of them (by address).
    pub(crate) fn figure_position(&self, f: &Figure) -> Option<usize> {
        let size = std::mem::size_of::<Figure>();
        let base = self.report.figures.as_ptr() as usize;
        let addr = f as *const Figure as usize;
        let off = addr.checked_sub(base)?;
        let i = off / size;
        (off % size == 0 && i < self.labels.len()).then_some(i)
    }

    /// A location pointing at one table cell, quoting its source line.
    pub fn cell_location(&self, table: &str, row: &str, column: &str) -> Location {
        super::location_at(table, row, column, self.fact(table, row, column))
    }
}

impl FactIndex<'_> {
    /// True when (table, row, column) was printed but could not be read as a number: a rule
    /// that needs it is not applicable (never computed with 0 in its place).
    pub fn is_unreadable(&self, table: &str, row: &str, column: &str) -> bool {
        self.any_unreadable
            && self
                .table(table)
                .is_some_and(|t| t.unreadable.iter().any(|(r, c)| r == row && c == column))
    }
}

impl Deref for FactIndex<'_> {
    type Target = Report;

    fn deref(&self) -> &Report {
        self.report
    }
}
