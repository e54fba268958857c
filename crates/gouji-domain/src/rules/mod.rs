//! The 勾稽 rule catalog and the engine that runs it over a [`Report`].
//!
//! Identities over table cells are data (`identities.toml`, evaluated by [`identities`]); rules
//! that need judgement (narrative figures, structure, unit types) are code in [`structure`],
//! [`narrative`] and [`crosscheck`]. Every rule has a stable English id, a severity and a Chinese
//! title; findings carry Chinese messages for finance staff.
//!
//! Tolerance model (rules.md §1.2): an identity `T = Σ P_i` between published 万元 figures may be
//! off by `0.005·(n+1)`; a gap inside that bound is an info «尾差», never an error.

mod canonical;
mod crosscheck;
pub mod identities;
mod index;
mod items;
mod narrative;
mod performance;
mod prose;
mod reading;
mod reading_refs;
pub mod related;
mod structure;

use std::sync::LazyLock;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::model::{Fact, Report, UnitType};

pub use index::FactIndex;
pub use related::{Related, RelatedValidation, Relation, ReportRef, UsedReport, validate_related};

/// Version of the rule catalog; stored with every set of findings.
pub const CATALOG_VERSION: &str = "2026.12.2";

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A hint or a rounding tail (尾差).
    Info,
    /// Needs an explanation (核实性审核).
    Warning,
    /// Must be fixed before publication (逻辑性审核).
    Error,
}

impl Severity {
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "提示",
            Severity::Warning => "警告",
            Severity::Error => "错误",
        }
    }
}

/// A place a finding points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Location {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub table: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub row: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub column: String,
    /// Narrative section heading, for narrative locations.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub section: String,
    pub line: u32,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// The location most likely to be wrong.
    #[serde(default)]
    pub suspect: bool,
    /// The other report this location is in (cross-report rules, XR-*); `None` for the report
    /// under check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<related::ReportRef>,
}

/// One result of one rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    /// For finance staff, in Chinese.
    pub message: String,
    pub locations: Vec<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Decimal>,
}

impl Finding {
    /// A finding; `difference` is `actual − expected` when both are known.
    pub fn new(
        rule_id: &str,
        severity: Severity,
        message: String,
        locations: Vec<Location>,
        expected: Option<Decimal>,
        actual: Option<Decimal>,
        tolerance: Option<Decimal>,
    ) -> Finding {
        let difference = match (expected, actual) {
            (Some(e), Some(a)) => Some(a - e),
            _ => None,
        };
        Finding {
            rule_id: rule_id.to_string(),
            severity,
            message,
            locations,
            expected,
            actual,
            difference,
            tolerance,
        }
    }
}

/// Catalog entry for one rule.
#[derive(Debug, Clone, Serialize)]
pub struct RuleInfo {
    pub id: String,
    pub severity: Severity,
    pub title: String,
    /// ST structure, IT intra-table, XT cross-table, NA narrative, CU cross-unit, XR cross-report.
    pub scope: &'static str,
    pub description: String,
}

/// What the caller knows that the document may not say.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub unit_type: Option<UnitType>,
}

/// The result of validating one report.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub findings: Vec<Finding>,
    pub catalog_version: &'static str,
}

impl Validation {
    /// No error-severity finding.
    pub fn valid(&self) -> bool {
        !self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    pub fn count(&self, s: Severity) -> usize {
        self.findings.iter().filter(|f| f.severity == s).count()
    }
}

/// One group of rules: reads the index, appends findings.
type RuleGroup<'a> = dyn Fn(&FactIndex, &mut Vec<Finding>) + 'a;

/// Runs every rule over `report`. Never fails: missing inputs make a rule not applicable.
///
/// Inside [`crate::work::with_cancel`] it stops between rule groups once the token is
/// cancelled or its deadline passed; the findings are then incomplete and the caller, which
/// sees [`crate::work::cancelled`], discards them.
pub fn validate(report: &Report, ctx: &Context) -> Validation {
    let ix = FactIndex::new(report);
    let mut findings = Vec::new();
    let groups: [&RuleGroup; 9] = [
        &identities::check_all,
        &structure::check,
        &narrative::check,
        &|ix, f| crosscheck::check(ix, ctx, f),
        &canonical::check,
        &performance::check,
        &items::check,
        &reading::check,
        &prose::check,
    ];
    for group in groups {
        if crate::work::cancelled().is_some() {
            break;
        }
        group(&ix, &mut findings);
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    Validation {
        findings: cap_findings(findings),
        catalog_version: CATALOG_VERSION,
    }
}

/// Keeps at most [`crate::work::MAX_FINDINGS_PER_RULE`] findings of each rule and
/// [`crate::work::MAX_FINDINGS`] in all (they arrive sorted, errors first), and says in one
/// G-10 finding per cut rule how many were left out, with that rule's severity, so a report
/// stays invalid when errors were cut; then bounds the text they quote ([`bound_quotes`]).
/// A no-op on every real report.
fn cap_findings(mut findings: Vec<Finding>) -> Vec<Finding> {
    use crate::work::{MAX_FINDINGS, MAX_FINDINGS_PER_RULE};
    if findings.len() <= MAX_FINDINGS_PER_RULE {
        bound_quotes(&mut findings);
        return findings;
    }
    let mut kept = Vec::with_capacity(findings.len().min(MAX_FINDINGS));
    // (rule, severity, listed, left out), in order of first appearance.
    let mut per_rule: Vec<(String, Severity, usize, usize)> = Vec::new();
    for f in findings {
        let i = match per_rule.iter().position(|(id, ..)| *id == f.rule_id) {
            Some(i) => i,
            None => {
                per_rule.push((f.rule_id.clone(), f.severity, 0, 0));
                per_rule.len() - 1
            }
        };
        let entry = &mut per_rule[i];
        if entry.2 < MAX_FINDINGS_PER_RULE && kept.len() < MAX_FINDINGS {
            entry.2 += 1;
            kept.push(f);
        } else {
            entry.3 += 1;
        }
    }
    for (id, severity, listed, left_out) in per_rule {
        if left_out > 0 {
            kept.push(Finding::new(
                "G-10",
                severity,
                format!(
                    "规则 {id} 另有 {left_out} 条发现未列出（已列出 {listed} 条；每条规则最多列出 {MAX_FINDINGS_PER_RULE} 条，每份报告最多 {MAX_FINDINGS} 条）。"
                ),
                Vec::new(),
                None,
                Some(Decimal::from(left_out as u64)),
                None,
            ));
        }
    }
    bound_quotes(&mut kept);
    kept
}

/// Cuts the source text the findings quote to [`crate::work::MAX_LOCATION_TEXT_CHARS`] per
/// location and [`crate::work::MAX_FINDINGS_TEXT_BYTES`] in all (then
/// [`crate::work::MIN_LOCATION_TEXT_CHARS`] per location), marking a cut with «…».
fn bound_quotes(findings: &mut [Finding]) {
    use crate::work::{MAX_FINDINGS_TEXT_BYTES, MAX_LOCATION_TEXT_CHARS, MIN_LOCATION_TEXT_CHARS};
    let mut spent = 0usize;
    for l in findings.iter_mut().flat_map(|f| f.locations.iter_mut()) {
        let limit = if spent > MAX_FINDINGS_TEXT_BYTES {
            MIN_LOCATION_TEXT_CHARS
        } else {
            MAX_LOCATION_TEXT_CHARS
        };
        // A char is at most 4 bytes: shorter texts need no counting.
        if l.text.len() > limit
            && let Some((cut, _)) = l.text.char_indices().nth(limit)
        {
            l.text.truncate(cut);
            l.text.push('…');
        }
        spent += l.text.len();
    }
}

static CATALOG: LazyLock<Vec<RuleInfo>> = LazyLock::new(|| {
    let mut out: Vec<RuleInfo> = identities::rules()
        .iter()
        .map(|r| RuleInfo {
            id: r.id.clone(),
            severity: r.severity,
            title: r.title.clone(),
            scope: r.scope(),
            description: r.describe(),
        })
        .collect();
    for (id, severity, scope, title, description) in structure::CATALOG
        .iter()
        .chain(narrative::CATALOG.iter())
        .chain(crosscheck::CATALOG.iter())
        .chain(canonical::CATALOG.iter())
        .chain(performance::CATALOG.iter())
        .chain(prose::CATALOG.iter())
        .chain(items::CATALOG.iter())
        .chain(reading::CATALOG.iter())
        .chain(reading_refs::CATALOG.iter())
        .chain(related::CATALOG.iter())
        .chain(crate::consolidate::CATALOG.iter())
    {
        out.push(RuleInfo {
            id: id.to_string(),
            severity: *severity,
            title: title.to_string(),
            scope,
            description: description.to_string(),
        });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
});

/// Every rule the engine runs.
pub fn catalog() -> &'static [RuleInfo] {
    &CATALOG
}

/// The admissible rounding gap for an identity with `n` non-blank addends: 0.005·(n+1) 万元.
pub fn rounding_bound(n: usize) -> Decimal {
    Decimal::new(5, 3) * Decimal::from(n as u64 + 1)
}

/// Half a unit of the last printed digit of a number as printed («53.84» → 0.005, «100» → 0.5):
/// the rounding a printed figure may carry.
pub(crate) fn half_unit_of(printed: &str) -> Decimal {
    let scale = printed.split_once('.').map_or(0, |(_, f)| f.len() as u32);
    Decimal::new(5, scale + 1)
}

/// Formats an amount for a message («2,781.88», «-0.40»): the decimal as printed (scale kept),
/// with thousands separators. Builds the digits directly from the mantissa: messages are built
/// for every finding, and `Decimal`'s `Display` costs several times more.
pub(crate) fn fmt(v: Decimal) -> String {
    let scale = v.scale() as usize;
    let mantissa = v.mantissa().unsigned_abs();
    // Digits, least significant first (a u128 mantissa has at most 39). Amounts fit in a u64,
    // whose division by 10 is a multiplication; u128 division is a library call.
    let mut digits = [0u8; 40];
    let mut n = 0;
    match u64::try_from(mantissa) {
        Ok(mut m) => {
            while m > 0 || n <= scale {
                digits[n] = b'0' + (m % 10) as u8;
                m /= 10;
                n += 1;
            }
        }
        Err(_) => {
            let mut m = mantissa;
            while m > 0 || n <= scale {
                digits[n] = b'0' + (m % 10) as u8;
                m /= 10;
                n += 1;
            }
        }
    }
    let int_len = n - scale;
    let mut out = String::with_capacity(n + int_len / 3 + 2);
    if v.is_sign_negative() && !v.is_zero() {
        out.push('-');
    }
    for i in 0..int_len {
        if i > 0 && (int_len - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(char::from(digits[n - 1 - i]));
    }
    if scale > 0 {
        out.push('.');
        for i in (0..scale).rev() {
            out.push(char::from(digits[i]));
        }
    }
    out
}

/// A location pointing at one table cell, quoting its source line (unindexed lookup; rules
/// that run inside `validate()` use [`FactIndex::cell_location`]).
#[allow(dead_code)]
pub(crate) fn cell_location(r: &Report, table: &str, row: &str, column: &str) -> Location {
    location_at(table, row, column, r.fact(table, row, column))
}

/// A location pointing at (table, row, column), quoting `fact`'s source line when present.
pub(crate) fn location_at(table: &str, row: &str, column: &str, fact: Option<&Fact>) -> Location {
    Location {
        table: table.into(),
        row: row.into(),
        column: column.into(),
        line: fact.map(|f| f.source.line).unwrap_or(0),
        text: fact.map(|f| f.source.text.clone()).unwrap_or_default(),
        ..Location::default()
    }
}

#[cfg(test)]
mod tests {
    use super::{Finding, Severity, cap_findings, fmt};
    use crate::work::{MAX_FINDINGS, MAX_FINDINGS_PER_RULE};
    use rust_decimal::Decimal;

    fn findings(rule: &str, severity: Severity, n: usize) -> Vec<Finding> {
        (0..n)
            .map(|i| Finding::new(rule, severity, format!("{i}"), Vec::new(), None, None, None))
            .collect()
    }

    #[test]
    fn findings_are_capped_per_rule_and_the_cut_is_counted_with_its_severity() {
        // A real report's findings pass unchanged.
        let few = findings("JS01-1", Severity::Error, 40);
        assert_eq!(cap_findings(few.clone()).len(), 40);
        // 3,000 errors of one rule and 20 warnings of another: 500 + 20 listed, one G-10 error.
        let mut many = findings("JS01-1", Severity::Error, 3_000);
        many.extend(findings("NR-01", Severity::Warning, 20));
        let capped = cap_findings(many);
        assert_eq!(capped.len(), MAX_FINDINGS_PER_RULE + 20 + 1);
        let cut: Vec<&Finding> = capped.iter().filter(|f| f.rule_id == "G-10").collect();
        assert_eq!(cut.len(), 1);
        assert_eq!(
            cut[0].severity,
            Severity::Error,
            "cut errors keep the report invalid"
        );
        assert_eq!(cut[0].actual, Some(Decimal::from(2_500)));
        assert!(cut[0].message.contains("JS01-1") && cut[0].message.contains("2500"));
        // Over all rules at most MAX_FINDINGS are listed, plus one count per cut rule.
        let mut huge = Vec::new();
        for r in 0..40 {
            huge.extend(findings(&format!("R-{r:02}"), Severity::Warning, 400));
        }
        let capped = cap_findings(huge);
        let listed = capped.iter().filter(|f| f.rule_id != "G-10").count();
        assert_eq!(listed, MAX_FINDINGS);
        let left_out: u64 = capped
            .iter()
            .filter(|f| f.rule_id == "G-10")
            .map(|f| u64::try_from(f.actual.unwrap()).unwrap())
            .sum();
        assert_eq!(listed as u64 + left_out, 16_000);
    }

    #[test]
    fn quoted_text_is_cut_per_location_and_in_all() {
        use super::Location;
        use crate::work::{MAX_LOCATION_TEXT_CHARS, MIN_LOCATION_TEXT_CHARS};
        let quoting = |text: &str, n: usize| -> Vec<Finding> {
            (0..n)
                .map(|i| {
                    let at = Location {
                        text: text.to_string(),
                        line: 7,
                        ..Location::default()
                    };
                    let rule = format!("NR-{:02}", i % 8);
                    Finding::new(
                        &rule,
                        Severity::Warning,
                        "x".into(),
                        vec![at],
                        None,
                        None,
                        None,
                    )
                })
                .collect()
        };
        // A real sentence is kept whole.
        let real = "一般公共预算财政拨款支出 2,781.88 万元，比上年增加 19.52 万元。";
        assert_eq!(cap_findings(quoting(real, 3))[0].locations[0].text, real);
        // A line of megabytes (one hostile line, 3 bytes a char) is cut, and once 8 MiB are
        // quoted each further location quotes 64 characters (8 rules × 450 findings).
        let long = "数".repeat(1_000_000);
        let cut = cap_findings(quoting(&long, 3_600));
        let first = &cut[0].locations[0].text;
        assert_eq!(first.chars().count(), MAX_LOCATION_TEXT_CHARS + 1);
        assert!(first.ends_with('…'));
        let last = &cut[3_599].locations[0].text;
        assert_eq!(last.chars().count(), MIN_LOCATION_TEXT_CHARS + 1);
        let total: usize = cut.iter().map(|f| f.locations[0].text.len()).sum();
        assert!(
            total < 8 * 1024 * 1024 + 3_600 * 3 * 65 + 3 * 1_001,
            "{total}"
        );
    }

    #[test]
    fn fmt_prints_the_decimal_with_thousands_separators() {
        let cases = [
            ("2781.88", "2,781.88"),
            ("19.52", "19.52"),
            ("-0.40", "-0.40"),
            ("0.00", "0.00"),
            ("0", "0"),
            ("4.00", "4.00"),
            ("41304.99", "41,304.99"),
            ("-1234567.5", "-1,234,567.5"),
            ("100", "100"),
            ("1000", "1,000"),
            ("0.005", "0.005"),
            ("-0.01", "-0.01"),
            ("939.0870", "939.0870"),
        ];
        for (input, want) in cases {
            let v: Decimal = input.parse().unwrap();
            assert_eq!(fmt(v), want, "{input}");
        }
        // Whatever the value, it reads back as itself once the separators are removed.
        for v in [
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(-5, 28),
            Decimal::new(123, 0),
        ] {
            let back: Decimal = fmt(v).replace(',', "").parse().unwrap();
            assert_eq!(back, v);
        }
    }
}
