//! Conversions between domain types and wire types. Amounts cross the wire as decimal strings.

use std::str::FromStr;

use gouji_domain::MeasureUnit;
use gouji_domain::document as dm_doc;
use gouji_domain::model as dm;
use gouji_domain::rules as dr;
use rust_decimal::Decimal;

use crate::report::v1 as pb;

/// A wire value that could not be converted, naming the field by its path from the message that
/// holds the report (`report.facts[3].amount`), as a `google.rpc.BadRequest` violation names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub description: String,
}

fn unit_to_pb(u: MeasureUnit) -> i32 {
    (match u {
        MeasureUnit::Yuan => pb::MeasureUnit::Yuan,
        MeasureUnit::Wanyuan => pb::MeasureUnit::Wanyuan,
        MeasureUnit::Yiyuan => pb::MeasureUnit::Yiyuan,
        MeasureUnit::Count => pb::MeasureUnit::Count,
        MeasureUnit::Percent => pb::MeasureUnit::Percent,
    }) as i32
}

fn unit_from_pb(u: i32) -> MeasureUnit {
    match pb::MeasureUnit::try_from(u) {
        Ok(pb::MeasureUnit::Yuan) => MeasureUnit::Yuan,
        Ok(pb::MeasureUnit::Yiyuan) => MeasureUnit::Yiyuan,
        Ok(pb::MeasureUnit::Count) => MeasureUnit::Count,
        Ok(pb::MeasureUnit::Percent) => MeasureUnit::Percent,
        _ => MeasureUnit::Wanyuan,
    }
}

pub fn unit_type_to_pb(t: Option<dm::UnitType>) -> i32 {
    (match t {
        None => pb::UnitType::Unspecified,
        Some(dm::UnitType::Administrative) => pb::UnitType::Administrative,
        Some(dm::UnitType::CivilServiceManaged) => pb::UnitType::CivilServiceManaged,
        Some(dm::UnitType::Institution) => pb::UnitType::Institution,
    }) as i32
}

pub fn unit_type_from_pb(t: i32) -> Option<dm::UnitType> {
    match pb::UnitType::try_from(t) {
        Ok(pb::UnitType::Administrative) => Some(dm::UnitType::Administrative),
        Ok(pb::UnitType::CivilServiceManaged) => Some(dm::UnitType::CivilServiceManaged),
        Ok(pb::UnitType::Institution) => Some(dm::UnitType::Institution),
        _ => None,
    }
}

pub fn kind_to_pb(k: dm::ReportKind) -> i32 {
    (match k {
        dm::ReportKind::Budget => pb::ReportKind::Budget,
        dm::ReportKind::FinalAccounts => pb::ReportKind::FinalAccounts,
    }) as i32
}

pub fn kind_from_pb(k: i32) -> Option<dm::ReportKind> {
    match pb::ReportKind::try_from(k) {
        Ok(pb::ReportKind::Budget) => Some(dm::ReportKind::Budget),
        Ok(pb::ReportKind::FinalAccounts) => Some(dm::ReportKind::FinalAccounts),
        _ => None,
    }
}

fn source(line: u32, text: &str) -> Option<pb::SourceRef> {
    (line > 0).then(|| pb::SourceRef {
        line,
        text: text.to_string(),
    })
}

/// The sender's side of the report's source-text compaction (`SourceRef.text` in
/// `report.proto`): a reference leaves its text out when the receiver can restore it — from the
/// latest earlier reference to the same line that carried a text, or, when there is none, from
/// the report's own `source_lines`. A narrative paragraph quoted by each of its twenty figures
/// then crosses the wire once, not twenty times.
struct SourceTexts<'a> {
    lines: &'a [String],
    /// Per line, the text the receiver will restore for it (the last one sent).
    sent: std::collections::HashMap<u32, &'a str>,
}

impl<'a> SourceTexts<'a> {
    fn new(lines: &'a [String]) -> Self {
        Self {
            lines,
            sent: std::collections::HashMap::new(),
        }
    }

    fn reference(&mut self, line: u32, text: &'a str) -> Option<pb::SourceRef> {
        if line == 0 {
            return None;
        }
        let restored = match self.sent.get(&line) {
            Some(&sent) => sent,
            None => line_text(self.lines, line).unwrap_or(""),
        };
        // An empty text cannot be told from a left-out one: it is restored, as the receiver
        // would (a reference that knows its line is given the line's text), and carries nothing.
        if restored == text || text.is_empty() {
            return Some(pb::SourceRef {
                line,
                text: String::new(),
            });
        }
        self.sent.insert(line, text);
        source(line, text)
    }
}

/// Line `line` (1-based) of `lines`, if there is one.
fn line_text(lines: &[String], line: u32) -> Option<&str> {
    let i = usize::try_from(line).ok()?.checked_sub(1)?;
    lines.get(i).map(String::as_str)
}

/// A fact's or a figure's reference, by index; the one that last carried a text for a line is
/// where a later reference with an empty `text` is restored from (facts in order, then figures).
#[derive(Clone, Copy)]
enum Carrier {
    Fact(usize),
    Figure(usize),
}

/// The receiver's side of the source-text compaction: fills in, in place, every `SourceRef.text`
/// the sender left out (see `report.proto`), so that each fact and figure quotes its printed line
/// again. [`report_from_pb`] calls it; a client that reads facts' or figures' texts from a
/// `GetReport` or `ValidateReport` answer can call it too. A report sent with every text (the
/// form before compaction) is left as it is.
///
/// Restoring copies a line once per reference, so a small message could ask for a great deal of
/// memory (one long line, 200,000 references to it). The texts of all facts and figures together,
/// as restored, may therefore hold at most [`gouji_domain::work::MAX_QUOTED_BYTES`] — what a
/// parsed report may quote — and a report that would need more is refused, before the copy that
/// would pass the limit is made. A reference sent with an empty text and a line is given the
/// line's text (an empty text is how a left-out one is written).
pub fn restore_source_texts(p: &mut pb::Report) -> Result<(), FieldError> {
    let mut budget = gouji_domain::work::MAX_QUOTED_BYTES;
    restore_source_texts_within(p, &mut budget)
}

/// Most bytes of source text all the reports of one request may restore together (a
/// `ValidateReportRequest` with its related reports): four reports' worth of
/// [`gouji_domain::work::MAX_QUOTED_BYTES`]. Without it a request of 17 MiB could carry fifty
/// small related reports of 16 MiB restored each. Ingestion sends its subject (≤ 16 MiB
/// restored, the per-report limit) and related reports only while their restored texts fit the
/// rest ([`restored_len`]), so what it sends always fits.
pub const MAX_RESTORED_PER_REQUEST: usize = 4 * gouji_domain::work::MAX_QUOTED_BYTES;

/// The bytes of source text a domain report's facts and figures quote — what its wire form
/// restores on the receiver, whatever was compacted.
pub fn restored_len(r: &dm::Report) -> usize {
    let quoted = |line: u32, text: &str| if line > 0 { text.len() } else { 0 };
    r.facts
        .iter()
        .map(|f| quoted(f.source.line, &f.source.text))
        .chain(
            r.figures
                .iter()
                .map(|f| quoted(f.source.line, &f.source.text)),
        )
        .fold(0usize, usize::saturating_add)
}

/// [`restore_source_texts`] drawing on a budget shared by the reports of one request: at most
/// `MAX_QUOTED_BYTES` for this report and at most what is left of `budget`, which is reduced by
/// what this report restored and carried.
pub fn restore_source_texts_within(
    p: &mut pb::Report,
    budget: &mut usize,
) -> Result<(), FieldError> {
    let limit = gouji_domain::work::MAX_QUOTED_BYTES.min(*budget);
    let mut carriers: std::collections::HashMap<u32, Carrier> = std::collections::HashMap::new();
    let mut quoted = 0usize;
    let n_facts = p.facts.len();
    for k in 0..n_facts + p.figures.len() {
        let item = if k < n_facts {
            Carrier::Fact(k)
        } else {
            Carrier::Figure(k - n_facts)
        };
        let Some(s) = item.source(p) else {
            continue;
        };
        let line = s.line;
        if line == 0 {
            continue;
        }
        if !s.text.is_empty() {
            quoted = quoted.saturating_add(s.text.len());
            carriers.insert(line, item);
        }
        let restored = if s.text.is_empty() {
            let text = match carriers.get(&line).and_then(|c| c.source(p)) {
                Some(carrier) => carrier.text.as_str(),
                None => line_text(&p.source_lines, line).unwrap_or_default(),
            };
            quoted = quoted.saturating_add(text.len());
            Some(text)
        } else {
            None
        };
        if quoted > limit {
            // Named by the reference whose text would pass the limit.
            let field = match item {
                Carrier::Fact(i) => format!("report.facts[{i}].source.text"),
                Carrier::Figure(i) => format!("report.figures[{i}].source.text"),
            };
            return Err(FieldError {
                field,
                description: format!(
                    "the source texts of the facts and figures, restored (one copy of its line \
                     per reference), would exceed {limit} bytes (of at most {} per report and \
                     {} left for this request)",
                    gouji_domain::work::MAX_QUOTED_BYTES,
                    *budget
                ),
            });
        }
        if let Some(text) = restored.map(str::to_string) {
            if let Some(s) = item.source_mut(p) {
                s.text = text;
            }
        }
    }
    *budget -= quoted;
    Ok(())
}

impl Carrier {
    fn source(self, p: &pb::Report) -> Option<&pb::SourceRef> {
        match self {
            Carrier::Fact(i) => p.facts.get(i)?.source.as_ref(),
            Carrier::Figure(i) => p.figures.get(i)?.source.as_ref(),
        }
    }

    fn source_mut(self, p: &mut pb::Report) -> Option<&mut pb::SourceRef> {
        match self {
            Carrier::Fact(i) => p.facts.get_mut(i)?.source.as_mut(),
            Carrier::Figure(i) => p.figures.get_mut(i)?.source.as_mut(),
        }
    }
}

/// Domain report → wire report, with the source texts compacted (see [`restore_source_texts`]).
pub fn report_to_pb(r: &dm::Report) -> pb::Report {
    let mut texts = SourceTexts::new(&r.lines);
    pb::Report {
        subject: r.subject.clone(),
        unit_type: unit_type_to_pb(r.unit_type),
        year: r.year,
        kind: kind_to_pb(r.kind),
        scope: (match r.scope {
            dm::Scope::Unit => pb::ReportScope::Unit,
            dm::Scope::Department => pb::ReportScope::Department,
        }) as i32,
        template_family: r.family.clone(),
        tables: r
            .tables
            .iter()
            .map(|t| pb::TableInfo {
                id: t.id.clone(),
                title: t.title.clone(),
                unit: unit_to_pb(t.unit),
                empty_reason: t.empty_reason.clone().unwrap_or_default(),
                line: t.line,
                rows: t
                    .rows
                    .iter()
                    .map(|x| pb::RowLabel {
                        key: x.key.clone(),
                        label: x.label.clone(),
                        note: x.note.clone().unwrap_or_default(),
                        line: x.line,
                        subtotal: x.subtotal,
                    })
                    .collect(),
                entity: t.entity.clone().unwrap_or_default(),
                dashes: t
                    .dashes
                    .iter()
                    .map(|(row, column)| pb::DashCell {
                        row: row.clone(),
                        column: column.clone(),
                    })
                    .collect(),
                unreadable: t
                    .unreadable
                    .iter()
                    .map(|(row, column)| pb::DashCell {
                        row: row.clone(),
                        column: column.clone(),
                    })
                    .collect(),
                printed_number: t.printed_number.clone().unwrap_or_default(),
                canonical: gouji_domain::catalog::canonical_of(&r.family, &t.id)
                    .map(|c| c.id.clone())
                    .unwrap_or_default(),
            })
            .collect(),
        facts: r
            .facts
            .iter()
            .map(|f| pb::Fact {
                table: f.table.clone(),
                row: f.row.clone(),
                column: f.column.clone(),
                amount: f.value.to_string(),
                unit: unit_to_pb(f.unit),
                source: texts.reference(f.source.line, &f.source.text),
            })
            .collect(),
        sections: r
            .sections
            .iter()
            .map(|s| pb::NarrativeSection {
                heading: s.heading.clone(),
                first_line: s.first_line,
                last_line: s.last_line,
            })
            .collect(),
        figures: r
            .figures
            .iter()
            .map(|f| pb::NarrativeFigure {
                section: f.section as u32,
                label: f.label.clone(),
                value: f.value.map(|v| v.to_string()).unwrap_or_default(),
                unit: unit_to_pb(f.unit),
                direction: match f.direction {
                    Some(dm::Direction::Up) => "增加".into(),
                    Some(dm::Direction::Down) => "减少".into(),
                    Some(dm::Direction::Flat) => "持平".into(),
                    None => String::new(),
                },
                printed: f.printed.clone(),
                source: texts.reference(f.source.line, &f.source.text),
            })
            .collect(),
        unplaced: r
            .unplaced
            .iter()
            .map(|u| pb::Unplaced {
                line: u.line,
                text: u.text.clone(),
                reason: u.reason.clone(),
            })
            .collect(),
        performance: r
            .performance
            .iter()
            .map(|p| pb::PerformanceScore {
                indicator: p.indicator.clone(),
                weight: p.weight.to_string(),
                score: p.score.to_string(),
                line: p.line,
            })
            .collect(),
        source_lines: r.lines.clone(),
        year_mentions: r
            .year_mentions
            .iter()
            .map(|m| pb::YearMention {
                line: m.line,
                year: m.year,
            })
            .collect(),
        source_format: r.format.map_or("", |f| f.as_str()).to_string(),
        line_origins: r.origins.iter().map(origin_to_pb).collect(),
    }
}

fn origin_to_pb(o: &dm_doc::Origin) -> pb::LineOrigin {
    match o {
        dm_doc::Origin::Pdf { page, bbox } => pb::LineOrigin {
            page: *page,
            x0: bbox.x0,
            top: bbox.top,
            x1: bbox.x1,
            bottom: bbox.bottom,
            ..Default::default()
        },
        dm_doc::Origin::Sheet { sheet, row, col } => pb::LineOrigin {
            sheet: sheet.clone(),
            row: *row,
            col: *col,
            ..Default::default()
        },
        dm_doc::Origin::TextLine { line } => pb::LineOrigin {
            row: *line,
            ..Default::default()
        },
    }
}

fn origin_from_pb(o: pb::LineOrigin) -> dm_doc::Origin {
    if !o.sheet.is_empty() {
        dm_doc::Origin::Sheet {
            sheet: o.sheet,
            row: o.row,
            col: o.col,
        }
    } else if o.page > 0 {
        dm_doc::Origin::Pdf {
            page: o.page,
            bbox: dm_doc::BBox {
                x0: o.x0,
                top: o.top,
                x1: o.x1,
                bottom: o.bottom,
            },
        }
    } else {
        dm_doc::Origin::TextLine { line: o.row }
    }
}

fn format_from_pb(s: &str) -> Option<dm_doc::Format> {
    match s {
        "text" => Some(dm_doc::Format::Text),
        "pdf" => Some(dm_doc::Format::Pdf),
        "xlsx" => Some(dm_doc::Format::Xlsx),
        "xls" => Some(dm_doc::Format::Xls),
        _ => None,
    }
}

fn decimal(s: &str, field: impl FnOnce() -> String) -> Result<Decimal, FieldError> {
    gouji_domain::amount::parse_decimal(s.trim()).ok_or_else(|| FieldError {
        field: field(),
        description: format!("«{s}» is not a decimal amount (use e.g. \"2781.88\")"),
    })
}

/// The inverse of [`source`]: a missing reference is an unknown line (0).
fn provenance(s: Option<pb::SourceRef>) -> dm::Provenance {
    s.map(|s| dm::Provenance {
        line: s.line,
        text: s.text,
    })
    .unwrap_or_default()
}

/// Wire report → domain report. Every amount must be a decimal string; errors name the field.
/// Takes the wire report by value so that its strings move into the domain report.
pub fn report_from_pb(p: pb::Report) -> Result<dm::Report, Vec<FieldError>> {
    let mut budget = gouji_domain::work::MAX_QUOTED_BYTES;
    report_from_pb_within(p, &mut budget)
}

/// [`report_from_pb`] for one of several reports of a request, their restored source texts
/// drawn from one `budget` ([`restore_source_texts_within`], [`MAX_RESTORED_PER_REQUEST`]).
pub fn report_from_pb_within(
    mut p: pb::Report,
    budget: &mut usize,
) -> Result<dm::Report, Vec<FieldError>> {
    // The caps of a parsed report hold for a structured one too, checked before any work.
    let caps = [
        ("report.facts", p.facts.len(), gouji_domain::work::MAX_FACTS),
        (
            "report.figures",
            p.figures.len(),
            gouji_domain::work::MAX_FIGURES,
        ),
        (
            "report.unplaced",
            p.unplaced.len(),
            gouji_domain::work::MAX_UNPLACED,
        ),
        (
            "report.source_lines",
            p.source_lines.len(),
            gouji_domain::work::MAX_LINES,
        ),
    ];
    let over: Vec<FieldError> = caps
        .into_iter()
        .filter(|&(_, n, limit)| n > limit)
        .map(|(field, n, limit)| FieldError {
            field: field.into(),
            description: format!("{n} entries; the limit is {limit}"),
        })
        .collect();
    if !over.is_empty() {
        return Err(over);
    }
    restore_source_texts_within(&mut p, budget).map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let kind = kind_from_pb(p.kind).unwrap_or_else(|| {
        errors.push(FieldError {
            field: "report.kind".into(),
            description: "must be REPORT_KIND_BUDGET or REPORT_KIND_FINAL_ACCOUNTS".into(),
        });
        dm::ReportKind::FinalAccounts
    });
    let scope = if p.scope == pb::ReportScope::Department as i32 {
        dm::Scope::Department
    } else {
        dm::Scope::Unit
    };
    let family = if p.template_family.is_empty() {
        match kind {
            dm::ReportKind::Budget => "shanxi-ys".to_string(),
            dm::ReportKind::FinalAccounts => "shanxi-js".to_string(),
        }
    } else {
        p.template_family
    };
    if !gouji_domain::catalog::is_known_family(&family) {
        errors.push(FieldError {
            field: "report.template_family".into(),
            description: format!("unknown template family «{family}»"),
        });
    }
    let mut r = dm::Report::new(p.subject, p.year, kind, scope, family);
    r.unit_type = unit_type_from_pb(p.unit_type);
    r.tables.reserve(p.tables.len());
    for t in p.tables {
        r.tables.push(dm::Table {
            id: t.id,
            title: t.title,
            unit: unit_from_pb(t.unit),
            empty_reason: (!t.empty_reason.is_empty()).then_some(t.empty_reason),
            line: t.line,
            rows: t
                .rows
                .into_iter()
                .map(|x| dm::RowLabel {
                    key: x.key,
                    label: x.label,
                    note: (!x.note.is_empty()).then_some(x.note),
                    line: x.line,
                    subtotal: x.subtotal,
                })
                .collect(),
            dashes: t.dashes.into_iter().map(|d| (d.row, d.column)).collect(),
            entity: (!t.entity.is_empty()).then_some(t.entity),
            unreadable: t
                .unreadable
                .into_iter()
                .map(|d| (d.row, d.column))
                .collect(),
            printed_number: (!t.printed_number.is_empty()).then_some(t.printed_number),
        });
    }
    r.facts.reserve(p.facts.len());
    let mut table_ids: std::collections::HashSet<String> =
        r.tables.iter().map(|t| t.id.clone()).collect();
    for (i, f) in p.facts.into_iter().enumerate() {
        let value = decimal(&f.amount, || format!("report.facts[{i}].amount"));
        if let Err(e) = &value {
            errors.push(e.clone());
        }
        if f.table.is_empty() || f.row.is_empty() || f.column.is_empty() {
            errors.push(FieldError {
                field: format!("report.facts[{i}]"),
                description: "table, row and column are required".into(),
            });
        }
        let Ok(value) = value else { continue };
        let unit = unit_from_pb(f.unit);
        // A set, not `r.table()`: a report of many tables made this quadratic (issue 12).
        if !table_ids.contains(f.table.as_str()) {
            table_ids.insert(f.table.clone());
            r.tables.push(dm::Table {
                id: f.table.clone(),
                title: f.table.clone(),
                unit,
                empty_reason: None,
                line: 0,
                rows: vec![],
                dashes: vec![],
                entity: None,
                unreadable: vec![],
                printed_number: None,
            });
        }
        r.facts.push(dm::Fact {
            table: f.table,
            row: f.row,
            column: f.column,
            value,
            unit,
            source: provenance(f.source),
        })
    }
    for s in p.sections {
        r.sections.push(dm::Section {
            heading: s.heading,
            first_line: s.first_line,
            last_line: s.last_line,
        });
    }
    for (i, f) in p.figures.into_iter().enumerate() {
        let value = if f.value.is_empty() {
            None
        } else {
            decimal(&f.value, || format!("report.figures[{i}].value"))
                .map_err(|e| errors.push(e))
                .ok()
        };
        let unit = unit_from_pb(f.unit);
        r.figures.push(dm::Figure {
            section: f.section as usize,
            kind: match unit {
                MeasureUnit::Percent => dm::FigureKind::Percent,
                MeasureUnit::Count => dm::FigureKind::Count,
                _ => dm::FigureKind::Amount,
            },
            label: f.label,
            value,
            unit,
            printed: f.printed,
            direction: match f.direction.as_str() {
                "增加" => Some(dm::Direction::Up),
                "减少" => Some(dm::Direction::Down),
                "持平" => Some(dm::Direction::Flat),
                _ => None,
            },
            source: provenance(f.source),
        });
    }
    for u in p.unplaced {
        r.unplaced.push(dm::Unplaced {
            line: u.line,
            text: u.text,
            reason: u.reason,
        });
    }
    for (i, s) in p.performance.into_iter().enumerate() {
        let weight = decimal(&s.weight, || format!("report.performance[{i}].weight"));
        let score = decimal(&s.score, || format!("report.performance[{i}].score"));
        match (weight, score) {
            (Ok(weight), Ok(score)) => r.performance.push(dm::PerformanceScore {
                indicator: s.indicator,
                weight,
                score,
                line: s.line,
            }),
            (w, sc) => errors.extend(w.err().into_iter().chain(sc.err())),
        }
    }
    r.lines = p.source_lines;
    r.format = format_from_pb(&p.source_format);
    r.origins = p.line_origins.into_iter().map(origin_from_pb).collect();
    r.year_mentions = p
        .year_mentions
        .into_iter()
        .map(|m| dm::YearMention {
            line: m.line,
            year: m.year,
        })
        .collect();
    if errors.is_empty() {
        Ok(r)
    } else {
        Err(errors)
    }
}

/// Domain finding → wire finding.
pub fn finding_to_pb(f: &dr::Finding) -> pb::Finding {
    let opt = |d: Option<Decimal>| d.map(|v| v.to_string()).unwrap_or_default();
    pb::Finding {
        rule_id: f.rule_id.clone(),
        severity: severity_to_pb(f.severity),
        message: f.message.clone(),
        locations: f
            .locations
            .iter()
            .map(|l| pb::Location {
                table: l.table.clone(),
                row: l.row.clone(),
                column: l.column.clone(),
                section: l.section.clone(),
                source: source(l.line, &l.text),
                suspect: l.suspect,
                report: l.report.as_ref().map(report_ref_to_pb),
            })
            .collect(),
        expected: opt(f.expected),
        actual: opt(f.actual),
        difference: opt(f.difference),
        tolerance: opt(f.tolerance),
    }
}

/// Domain report reference → wire.
pub fn report_ref_to_pb(r: &dr::ReportRef) -> pb::ReportRef {
    pb::ReportRef {
        unit: r.unit.clone(),
        name: r.name.clone(),
        year: r.year,
        kind: kind_to_pb(r.kind),
        scope: (match r.scope {
            dm::Scope::Unit => pb::ReportScope::Unit,
            dm::Scope::Department => pb::ReportScope::Department,
        }) as i32,
        revision: r.revision,
    }
}

/// Wire report reference → domain (an unspecified kind is 决算, an unspecified scope 单位, as
/// for reports).
pub fn report_ref_from_pb(r: &pb::ReportRef) -> dr::ReportRef {
    dr::ReportRef {
        unit: r.unit.clone(),
        name: r.name.clone(),
        year: r.year,
        kind: kind_from_pb(r.kind).unwrap_or(dm::ReportKind::FinalAccounts),
        scope: if r.scope == pb::ReportScope::Department as i32 {
            dm::Scope::Department
        } else {
            dm::Scope::Unit
        },
        revision: r.revision,
    }
}

pub fn severity_to_pb(s: dr::Severity) -> i32 {
    (match s {
        dr::Severity::Info => pb::Severity::Info,
        dr::Severity::Warning => pb::Severity::Warning,
        dr::Severity::Error => pb::Severity::Error,
    }) as i32
}

/// Wire finding → domain finding (for findings stored or relayed by other services).
pub fn finding_from_pb(f: &pb::Finding) -> dr::Finding {
    let opt = |s: &str| {
        if s.is_empty() {
            None
        } else {
            Decimal::from_str(s).ok()
        }
    };
    dr::Finding {
        rule_id: f.rule_id.clone(),
        severity: match pb::Severity::try_from(f.severity) {
            Ok(pb::Severity::Error) => dr::Severity::Error,
            Ok(pb::Severity::Warning) => dr::Severity::Warning,
            _ => dr::Severity::Info,
        },
        message: f.message.clone(),
        locations: f
            .locations
            .iter()
            .map(|l| dr::Location {
                table: l.table.clone(),
                row: l.row.clone(),
                column: l.column.clone(),
                section: l.section.clone(),
                line: l.source.as_ref().map(|s| s.line).unwrap_or(0),
                text: l
                    .source
                    .as_ref()
                    .map(|s| s.text.clone())
                    .unwrap_or_default(),
                suspect: l.suspect,
                report: l.report.as_ref().map(report_ref_from_pb),
            })
            .collect(),
        expected: opt(&f.expected),
        actual: opt(&f.actual),
        difference: opt(&f.difference),
        tolerance: opt(&f.tolerance),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trips_without_losing_amount_scale() {
        let doc = "示例中心\n2024年度单位决算公开\n收入决算表\n公开02表\n单位名称：示例中心\n金额单位：万元\n合计\t\t4.00\t4.00\n210\t卫生健康支出\t4.00\t4.00\n";
        let r = gouji_domain::parse_document(doc.as_bytes()).unwrap();
        let back = report_from_pb(report_to_pb(&r)).unwrap();
        assert_eq!(back.facts, r.facts);
        assert_eq!(back.facts[0].value.to_string(), "4.00");
    }

    #[test]
    fn bad_amounts_name_their_field() {
        let p = pb::Report {
            kind: pb::ReportKind::FinalAccounts as i32,
            facts: vec![pb::Fact {
                table: "公开01".into(),
                row: "收入总计".into(),
                column: "决算数".into(),
                amount: "1.2e3".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let errs = report_from_pb(p).unwrap_err();
        assert_eq!(errs[0].field, "report.facts[0].amount");
    }
}
