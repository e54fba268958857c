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

/// The `gouji check` report: findings grouped by severity with the quoted source lines.
pub(crate) fn findings(
    file: &str,
    report: &Report,
    v: &gouji_domain::rules::Validation,
    verbose: bool,
) -> String {
    use gouji_domain::rules::Severity;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{file}: {} {}年度{} — {} 错误, {} 警告, {} 提示 ({})",
        report.subject,
        report.year,
        report.kind.label(),
        v.count(Severity::Error),
        v.count(Severity::Warning),
        v.count(Severity::Info),
        if v.valid() {
            "可公开"
        } else {
            "须修改后公开"
        }
    );
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        if sev == Severity::Info && !verbose {
            continue;
        }
        let group: Vec<_> = v.findings.iter().filter(|f| f.severity == sev).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n  {} ({})", sev.label(), group.len());
        for f in group {
            let _ = writeln!(out, "  [{}] {}", f.rule_id, f.message);
            for l in f.locations.iter().filter(|l| l.line > 0).take(4) {
                let mark = if l.suspect { "→" } else { " " };
                // A PDF or workbook line also names where it is in the original; a line of
                // another report (cross-report rules) names that report.
                let at = match &l.report {
                    Some(other) => format!(" [{}]", other.describe()),
                    None => report
                        .cell_origin_of(&l.table, &l.row, &l.column)
                        .or_else(|| report.origin_of(l.line))
                        .map_or_else(String::new, |o| format!(" [{o}]")),
                };
                let _ = writeln!(
                    out,
                    "      {mark} 第{}行{at}: {}",
                    l.line,
                    l.text.trim().chars().take(100).collect::<String>()
                );
            }
        }
    }
    if !verbose && v.count(Severity::Info) > 0 {
        let _ = writeln!(
            out,
            "\n  ({} 条提示未显示，加 --verbose 查看)",
            v.count(Severity::Info)
        );
    }
    out.push('\n');
    out
}

/// The rule catalog as Markdown (docs/rules.md is generated from this).
pub(crate) fn rules_markdown() -> String {
    let mut out = String::from(
        "# Rule catalog\n\nGenerated by `gouji rules`. Severity: error = 必须修改; warning = 需说明; info = 提示/尾差.\n\n| id | severity | scope | rule | how it is checked |\n|---|---|---|---|---|\n",
    );
    for r in gouji_domain::rules::catalog() {
        let _ = writeln!(
            out,
            "| {} | {:?} | {} | {} | {} |",
            r.id,
            r.severity,
            r.scope,
            r.title,
            r.description.replace('|', "\\|")
        );
    }
    let _ = writeln!(
        out,
        "\nCatalog version {}; {} rules.",
        gouji_domain::rules::CATALOG_VERSION,
        gouji_domain::rules::catalog().len()
    );
    out
}
