//! Every declarative identity has a minimal passing and a minimal failing report, built from the
//! rule's own definition: parts of 1.00 each with the right total pass; a total off by 1.00 fails
//! with the rule's severity; a total off by 0.01 (inside 0.005·(n+1)) is an info 尾差.

use gouji_domain::amount::MeasureUnit;
use gouji_domain::model::{Fact, Provenance, Report, ReportKind, Scope, Table};
use gouji_domain::rules::identities::{Kind, rules};
use gouji_domain::rules::{Context, Severity, validate};
use rust_decimal::Decimal;
use rust_decimal::prelude::FromPrimitive;

fn report_with(cells: &[(&str, &str, &str, Decimal)]) -> Report {
    let mut r = Report::new(
        "示例单位",
        2024,
        ReportKind::FinalAccounts,
        Scope::Unit,
        "none",
    );
    for (t, row, col, v) in cells {
        if r.table(t).is_none() {
            r.tables.push(Table {
                id: t.to_string(),
                title: t.to_string(),
                unit: MeasureUnit::Wanyuan,
                empty_reason: None,
                line: 1,
                rows: vec![],
                dashes: vec![],
                entity: None,
                unreadable: Vec::new(),
                printed_number: None,
            });
        }
        r.facts.push(Fact {
            table: t.to_string(),
            row: row.to_string(),
            column: col.to_string(),
            value: *v,
            unit: MeasureUnit::Wanyuan,
            source: Provenance {
                line: 1,
                text: String::new(),
            },
        });
    }
    r
}

fn split(s: &str) -> (String, String, String) {
    let mut it = s.trim_start_matches('-').split('|');
    (
        it.next().unwrap().into(),
        it.next().unwrap().into(),
        it.next().unwrap().into(),
    )
}

#[test]
fn every_sum_and_equality_identity_passes_and_fails() {
    let one = Decimal::ONE;
    let mut checked = 0;
    for rule in rules() {
        let v: serde_json::Value = serde_json::to_value(rule_fields(rule)).unwrap();
        let cells_for = |total_delta: Decimal| -> Option<Vec<(String, String, String, Decimal)>> {
            match rule.kind {
                Kind::Sum => {
                    let parts: Vec<String> = serde_json::from_value(v["parts"].clone()).ok()?;
                    if parts.is_empty() {
                        return None;
                    }
                    let mut cells: Vec<_> = parts
                        .iter()
                        .map(|p| {
                            let (t, r, c) = split(p);
                            (t, r, c, one)
                        })
                        .collect();
                    let signed: Decimal = parts
                        .iter()
                        .map(|p| if p.starts_with('-') { -one } else { one })
                        .sum();
                    let (t, r, c) = split(v["total"].as_str()?);
                    cells.push((t, r, c, signed + total_delta));
                    Some(cells)
                }
                Kind::Equal => {
                    let (lt, lr, lc) = split(v["left"].as_str()?);
                    let (rt, rr, rc) = split(v["right"].as_str()?);
                    Some(vec![(lt, lr, lc, one + total_delta), (rt, rr, rc, one)])
                }
                Kind::RowSum => {
                    let table = v["table"].as_str()?.to_string();
                    let parts: Vec<String> = serde_json::from_value(v["parts"].clone()).ok()?;
                    let mut cells: Vec<_> = parts
                        .iter()
                        .map(|p| {
                            (
                                table.clone(),
                                "合计".to_string(),
                                p.trim_start_matches('-').to_string(),
                                one,
                            )
                        })
                        .collect();
                    let signed: Decimal = parts
                        .iter()
                        .map(|p| if p.starts_with('-') { -one } else { one })
                        .sum();
                    cells.push((
                        table,
                        "合计".into(),
                        v["total"].as_str()?.to_string(),
                        signed + total_delta,
                    ));
                    Some(cells)
                }
                _ => None,
            }
        };
        let Some(pass) = cells_for(Decimal::ZERO) else {
            continue;
        };
        let run = |cells: Vec<(String, String, String, Decimal)>| {
            let refs: Vec<(&str, &str, &str, Decimal)> = cells
                .iter()
                .map(|(a, b, c, d)| (a.as_str(), b.as_str(), c.as_str(), *d))
                .collect();
            validate(&report_with(&refs), &Context::default())
                .findings
                .into_iter()
                .filter(|f| f.rule_id == rule.id)
                .collect::<Vec<_>>()
        };
        assert!(
            run(pass).is_empty(),
            "{} should pass on a consistent report",
            rule.id
        );
        let fail = run(cells_for(one).unwrap());
        assert!(
            fail.iter().any(|f| f.severity == rule.severity),
            "{} should fail with {:?}",
            rule.id,
            rule.severity
        );
        if rule.kind != Kind::Equal && v["tolerance"].as_str() != Some("exact") {
            let tail = run(cells_for(Decimal::from_f32(0.01).unwrap().round_dp(2)).unwrap());
            assert!(
                tail.iter().all(|f| f.severity == Severity::Info) && !tail.is_empty(),
                "{}: 0.01 is a rounding tail",
                rule.id
            );
        }
        checked += 1;
    }
    assert!(checked >= 45, "only {checked} identities exercised");
}

fn rule_fields(rule: &gouji_domain::rules::identities::IdentityRule) -> serde_json::Value {
    rule.definition()
}
