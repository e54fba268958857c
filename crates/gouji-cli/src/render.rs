//! Human-readable and script-readable renderings of reports and findings.

use std::fmt::Write;

use gouji_domain::Report;
use gouji_domain::model::FigureKind;

/// One line per cell: `table<TAB>row<TAB>column<TAB>amount<TAB>unit`.
pub(crate) fn cells(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.facts {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            f.table,
            f.row,
            f.column,
            f.value,
            f.unit.label()
        );
    }
    out
}

/// The `gouji parse` summary: identity, tables with cell counts, narrative figures, unplaced.
pub(crate) fn parse_summary(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  {}年度 {} ({}; template {})",
        r.subject,
        r.year,
        r.kind.label(),
        match r.scope {
            gouji_domain::Scope::Unit => "单位",
            gouji_domain::Scope::Department => "部门汇总",
        },
        r.family
    );
    let _ = writeln!(out, "\nTables ({}):", r.tables.len());
    for t in &r.tables {
        let n = r.facts_of(&t.id).count();
        let empty = t
            .empty_reason
            .as_deref()
            .map(|e| format!("  [空表: {e}]"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<6} {:>4} cells  {:>3} rows  line {:<5} {}{}",
            t.id,
            n,
            t.rows.len(),
            t.line,
            t.title,
            empty
        );
    }
    let amounts = r
        .figures
        .iter()
        .filter(|f| f.kind == FigureKind::Amount)
        .count();
    let pcts = r
        .figures
        .iter()
        .filter(|f| f.kind == FigureKind::Percent)
        .count();
    let counts = r
        .figures
        .iter()
        .filter(|f| f.kind == FigureKind::Count)
        .count();
    let _ = writeln!(
        out,
        "\nNarrative: {} sections, {} figures ({amounts} amounts, {pcts} percentages, {counts} counts)",
        r.sections.len(),
        r.figures.len()
    );
    for f in r.figures.iter().take(12) {
        let _ = writeln!(
            out,
            "  line {:<5} {} = {}",
            f.source.line, f.label, f.printed
        );
    }
    if r.figures.len() > 12 {
        let _ = writeln!(out, "  … {} more (use --format json)", r.figures.len() - 12);
    }
    if !r.performance.is_empty() {
        let _ = writeln!(out, "\n绩效自评表: {} score rows", r.performance.len());
    }
    let _ = writeln!(out, "\nUnplaced: {}", r.unplaced.len());
    for u in &r.unplaced {
        let _ = writeln!(
            out,
            "  line {:<5} {}  «{}»",
            u.line,
            u.reason,
            u.text.trim()
        );
    }
    out
}
