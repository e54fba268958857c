//! 绩效自评表 score rows read by their header (分值 and 得分 columns) from a real seed, and the PF
//! rules on them: the 总分 of the «医疗保险外伤业务稽核费» table is the sum of its indicators'
//! 得分, and a 总分 changed in the text is reported.

mod common;

use common::seed_bytes;
use gouji_domain::parse_document;
use gouji_domain::rules::{Context, Severity, validate};

fn pf(text: &str) -> Vec<(String, Severity, String)> {
    pf_rules(text, &["PF-01", "PF-02", "PF-03"])
}

fn pf_rules(text: &str, rules: &[&str]) -> Vec<(String, Severity, String)> {
    let r = parse_document(text.as_bytes()).expect("parses");
    validate(&r, &Context::default())
        .findings
        .into_iter()
        .filter(|f| rules.contains(&f.rule_id.as_str()))
        .map(|f| (f.rule_id, f.severity, f.message))
        .collect()
}

#[test]
fn scores_are_read_under_their_header_and_the_total_is_checked() {
    let Some(bytes) = seed_bytes(4) else { return };
    let text = String::from_utf8(bytes).expect("utf-8");
    let r = parse_document(text.as_bytes()).expect("parses");
    let total_line = text
        .lines()
        .position(|l| l.starts_with("总分\t") && l.trim_end().ends_with("100\t90"))
        .expect("the 总分 row of the 外伤业务稽核费 table") as u32
        + 1;
    // The table's rows: the 年度资金总额 row (分值 10, 得分 0: nothing executed), five
    // indicators, and the 总分.
    let rows: Vec<(&str, String, String)> = r
        .performance
        .iter()
        .filter(|s| s.line + 13 >= total_line && s.line <= total_line)
        .map(|s| {
            (
                s.indicator.as_str(),
                s.weight.to_string(),
                s.score.to_string(),
            )
        })
        .collect();
    fn row<'a>(name: &'a str, w: &str, s: &str) -> (&'a str, String, String) {
        (name, w.to_string(), s.to_string())
    }
    assert_eq!(
        rows,
        [
            row("年度资金总额", "10", "0"),
            row("稽核覆盖范围", "20", "20"),
            row("外伤调查案件调查甄别完成率", "20", "20"),
            row("接到报案2-20个工作日完成调查任务", "10", "10"),
            row("基金使用公平公正合理", "30", "30"),
            row("基金使用公平公正合理", "10", "10"),
            row("总分", "100", "90"),
        ]
    );
    // 栏次 rows of later tables are not score rows.
    assert!(
        r.performance
            .iter()
            .all(|s| !r.lines[s.line as usize - 1].starts_with("栏次")),
        "a 栏次 row read as a score"
    );
    assert_eq!(
        pf_rules(&text, &["PF-01", "PF-02"]),
        vec![],
        "the seed's scores hold"
    );

    // The same document with that 总分 printed as 95: PF-02 names the gap of 5.
    let changed: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i as u32 + 1 == total_line {
                l.replace("100\t90", "100\t95")
            } else {
                l.to_string()
            }
        })
        .collect();
    let found = pf_rules(&changed.join("\n"), &["PF-01", "PF-02"]);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        (found[0].0.as_str(), found[0].1),
        ("PF-02", Severity::Error)
    );
    assert!(
        found[0].2.contains("总分为 95") && found[0].2.contains("得分之和为 90"),
        "{}",
        found[0].2
    );
}

#[test]
fn execution_rates_are_checked_on_rows_under_their_header_and_ragged_rows_are_not_read() {
    // S1 prints «市区财政资金 400 400 325.398 72.225 253.173 22.20 2.22» with one cell dropped: read by
    // position it would say 执行率 2.22% for 253.173 ÷ 72.225. Its 资金结(转)余 column does not
    // hold 全年预算数 − 全年执行数, so the row is not read; nothing is reported.
    let Some(s1) = seed_bytes(1) else { return };
    let found = pf(std::str::from_utf8(&s1).unwrap());
    assert!(found.iter().all(|(rule, ..)| rule != "PF-03"), "{found:?}");
    // S4 prints 93.61% for 1,378.55 ÷ 1,472.55 (93.6165…: truncated, not rounded) and 72.16% for
    // 1,104.91 ÷ 1,531.00: one unit of the last digit, an info each.
    let Some(s4) = seed_bytes(4) else { return };
    let rates: Vec<(Severity, String)> = pf(std::str::from_utf8(&s4).unwrap())
        .into_iter()
        .filter(|(rule, ..)| rule == "PF-03")
        .map(|(_, s, m)| (s, m))
        .collect();
    assert_eq!(rates.len(), 2, "{rates:?}");
    assert!(rates.iter().all(|(s, _)| *s == Severity::Info), "{rates:?}");
    assert!(rates[0].1.contains("执行率为 93.61%") && rates[0].1.contains("为 93.62%"));
}
