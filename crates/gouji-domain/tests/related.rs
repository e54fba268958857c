//! Cross-report rules (XR-*) on real documents: the Jiangsu departments' 部门预算 of 2017, 2018
//! and 2019 checked against each other's previous year, the Putuo 部门 report against its only
//! 单位 report, and fixtures composed from the seeds (决算) for the carry-forward rule.
//!
//! The golden file `tests/golden/related/jiangsu.txt` lists every «比上年» claim the rules read
//! with its outcome, then the findings (refresh with `UPDATE_GOLDEN=1`, then re-verify every
//! error against the two texts and update `VERIFIED` below).

mod common;

use common::{assert_golden, corpus, corpus_text, seed_bytes};
use gouji_domain::rules::{Related, ReportRef, Severity, validate_related};
use gouji_domain::{Report, parse_document};

fn related(report: Report) -> Related {
    Related {
        reference: ReportRef::of(&report),
        report,
    }
}

/// Every «比上年» claim of `current` checked against `prior`, and the findings, as text.
fn pair_text(name: &str, current: &Report, prior: Report) -> (String, usize) {
    let this = ReportRef::of(current);
    let x = validate_related(current, &this, &[related(prior)]);
    let mut out = format!("== {name}\n");
    for u in &x.used {
        out.push_str(&format!(
            "used {:?} {}\n",
            u.relation,
            u.reference.describe()
        ));
    }
    for c in &x.checks {
        out.push_str(&format!(
            "check {} line {}: {} — {}\n",
            c.rule_id, c.line, c.claim, c.outcome
        ));
    }
    let mut errors = 0;
    for f in &x.findings {
        if f.severity == Severity::Error {
            errors += 1;
        }
        out.push_str(&format!("{} {:?} {}\n", f.rule_id, f.severity, f.message));
        // Every finding names the other report in one of its locations.
        assert!(
            f.locations.iter().any(|l| l.report.is_some()),
            "{name}: {f:?} does not name the other report"
        );
    }
    (out, errors)
}

/// The Jiangsu units with reports for consecutive years in the corpus.
const PAIRS: &[(&str, &str)] = &[
    ("jiangsu_jcy_2018_bmys", "jiangsu_jcy_2017_bmys"),
    ("jiangsu_jcy_2019_bmys", "jiangsu_jcy_2018_bmys"),
    ("jiangsu_gjfy_2018_bmys", "jiangsu_gjfy_2017_bmys"),
    ("jiangsu_gjfy_2019_bmys", "jiangsu_gjfy_2018_bmys"),
    ("jiangsu_rdbgt_2018_bmys", "jiangsu_rdbgt_2017_bmys"),
    ("jiangsu_swbgt_2018_bmys", "jiangsu_swbgt_2017_bmys"),
    ("jiangsu_zxbgt_2018_bmys", "jiangsu_zxbgt_2017_bmys"),
];

#[test]
fn jiangsu_claims_are_checked_against_the_prior_year_report() {
    let mut text = String::new();
    let mut errors = 0;
    let mut checks = 0;
    for (now, before) in PAIRS {
        let (Some(current), Some(prior)) = (corpus(now), corpus(before)) else {
            return;
        };
        assert_eq!(current.year, prior.year + 1, "{now} / {before}");
        let (t, e) = pair_text(&format!("{now} vs {before}"), &current, prior);
        checks += t.lines().filter(|l| l.starts_with("check ")).count();
        errors += e;
        text.push_str(&t);
    }
    assert_golden("related/jiangsu.txt", &text);
    // The claims are read (not silently skipped) and the errors are the verified ones.
    assert!(checks >= 40, "{checks} claims checked");
    assert_eq!(
        errors,
        VERIFIED.len(),
        "errors changed; verify each by hand"
    );
}

/// Every error of `related/jiangsu.txt`, verified by hand against the two texts.
const VERIFIED: &[&str] = &[
    // jcy 2018 §五 (line 656) and §七 (line 709): «财政拨款预算支出 21,940.96 万元 … 与上年相比，
    // 财政拨款支出增加 3,958.98 万元» ⇒ 2017 = 21,940.96 − 3,958.98 = 17,981.98. jcy 2017 公开 七
    // 一般公共预算支出预算表 «合计 17,981.68» (line 322; 四 财政拨款收支总表 line 260 the same),
    // and jcy 2018 itself says in §一 «一般公共预算收入预算 21,940.96 万元，与上年相比增加
    // 3,959.28 万元» (= 21,940.96 − 17,981.68). The 3,958.98 is off by 0.30; two sections print it.
    "jcy 2018 §五 财政拨款支出增加 3,958.98 (2017 = 17,981.68, not 17,981.98)",
    "jcy 2018 §七 一般公共预算财政拨款支出增加 3,958.98 (same)",
    // gjfy 2018 line 529–530: «2．法院（款）一般行政事务管理（项）支出 6049.97 万元，与上年相比
    // 减少 392.92 万元，减少 5.95%» ⇒ 2017 = 6,442.89. gjfy 2017 2040502 一般行政管理事务
    // 6,432.89 (lines 322 and 383; its own §五 line 591 «支出 6432.89 万元»). 6,432.89 − 6,049.97 =
    // 382.92, and 382.92 / 6,432.89 = 5.95% — the printed rate: 392.92 is a typo for 382.92.
    "gjfy 2018 2040502 减少 392.92 (should be 382.92)",
];

/// The seed S0 (a 2024 单位决算) cut before its 情况说明, so that only its tables take part.
fn s0_tables() -> Option<String> {
    let text = String::from_utf8(seed_bytes(0)?).expect("utf-8");
    let cut = text.rfind("第三部分 情况说明").expect("S0 has a 情况说明");
    Some(text[..cut].to_string())
}

/// S0 as its own prior year: year 2023, and 年末结转和结余 (公开01) printed as `carry`.
fn s0_as_prior_year(carry: Option<&str>) -> Option<Report> {
    let text = s0_tables()?.replace("2024", "2023");
    let text = match carry {
        Some(v) => text.replacen(
            "年初结转和结余\t29\t\t年末结转和结余\t60\t",
            &format!("年初结转和结余\t29\t\t年末结转和结余\t60\t{v}"),
            1,
        ),
        None => text,
    };
    Some(parse_document(text.as_bytes()).expect("parses"))
}

fn s0(opening: Option<&str>) -> Option<Report> {
    let text = s0_tables()?;
    let text = match opening {
        Some(v) => text.replacen(
            "年初结转和结余\t29\t\t年末结转和结余\t60\t",
            &format!("年初结转和结余\t29\t{v}\t年末结转和结余\t60\t"),
            1,
        ),
        None => text,
    };
    Some(parse_document(text.as_bytes()).expect("parses"))
}

#[test]
fn a_wrong_opening_balance_is_one_error_naming_both_reports() {
    let (Some(current), Some(prior)) = (s0(None), s0_as_prior_year(Some("12.34"))) else {
        return;
    };
    assert_eq!(prior.year, 2023);
    let this = ReportRef::of(&current);
    let x = validate_related(&current, &this, &[related(prior)]);
    let xr01: Vec<_> = x.findings.iter().filter(|f| f.rule_id == "XR-01").collect();
    assert_eq!(xr01.len(), 1, "{xr01:#?}");
    let f = xr01[0];
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.actual, Some("0".parse().unwrap()));
    assert_eq!(f.expected, Some("12.34".parse().unwrap()));
    // Both reports are named: this one's 年初 line and the prior report's 年末 line.
    assert!(f.locations[0].report.is_none());
    assert!(f.locations[0].text.contains("年初结转和结余"));
    let other = f.locations[1]
        .report
        .as_ref()
        .expect("names the prior report");
    assert_eq!(other.year, 2023);
    assert!(
        f.locations[1].text.contains("12.34"),
        "{:?}",
        f.locations[1]
    );
    assert!(f.message.contains("2023年决算"), "{}", f.message);
}

#[test]
fn a_right_opening_balance_gives_no_carry_forward_finding() {
    for (opening, closing) in [(None, None), (Some("12.34"), Some("12.34"))] {
        let (Some(current), Some(prior)) = (s0(opening), s0_as_prior_year(closing)) else {
            return;
        };
        let this = ReportRef::of(&current);
        let x = validate_related(&current, &this, &[related(prior)]);
        let xr01: Vec<_> = x.findings.iter().filter(|f| f.rule_id == "XR-01").collect();
        assert!(xr01.is_empty(), "{opening:?}/{closing:?}: {xr01:#?}");
        assert_eq!(x.used.len(), 1);
    }
}

#[test]
fn rules_without_their_related_report_find_nothing() {
    let Some(current) = corpus("jiangsu_jcy_2018_bmys") else {
        return;
    };
    let this = ReportRef::of(&current);
    let none = validate_related(&current, &this, &[]);
    assert!(none.findings.is_empty() && none.used.is_empty() && none.checks.is_empty());
    // A report two years back is no related report of this one.
    let Some(older) = corpus("jiangsu_jcy_2017_bmys") else {
        return;
    };
    let mut older = related(older);
    older.reference.year = 2016;
    older.report.year = 2016;
    let x = validate_related(&current, &this, &[older]);
    assert!(
        x.findings.is_empty() && x.used.is_empty(),
        "{:#?}",
        x.findings
    );
}

#[test]
fn a_department_whose_only_unit_is_identical_passes() {
    let (Some(dept), Some(unit)) = (corpus("putuo_zfb_2025_bmys"), corpus("putuo_zfb_2025_dwys"))
    else {
        return;
    };
    let this = ReportRef::of(&dept);
    let x = gouji_domain::rules::related::department_check(&dept, &this, &[related(unit)], true);
    let errors: Vec<_> = x.iter().filter(|f| f.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn a_unit_line_larger_than_its_department_line_is_an_error_naming_both() {
    let (Some(dept), Some(unit_text)) = (
        corpus("putuo_zfb_2025_bmys"),
        corpus_text("putuo_zfb_2025_dwys"),
    ) else {
        return;
    };
    let unit = parse_document(&unit_text).expect("parses");
    // Raise one 项 of the unit's 支出 table by 1,000,000 元.
    let (row, fact) = unit
        .facts
        .iter()
        .filter(|f| {
            f.table == "expense_by_function"
                && f.row.len() == 7
                && f.value > rust_decimal::Decimal::ZERO
        })
        .map(|f| (f.row.clone(), f.clone()))
        .next()
        .expect("a 项 row");
    let line = &fact.source.text;
    let printed = line
        .split('\t')
        .find(|c| {
            gouji_domain::amount::parse_decimal(&c.trim().replace(',', "")) == Some(fact.value)
        })
        .expect("the cell as printed")
        .trim()
        .to_string();
    let raised = (fact.value + rust_decimal::Decimal::from(1_000_000)).to_string();
    let text = String::from_utf8(unit_text).unwrap().replacen(
        line.as_str(),
        &line.replacen(&printed, &raised, 1),
        1,
    );
    let unit = parse_document(text.as_bytes()).expect("parses");
    let this = ReportRef::of(&dept);
    let x = validate_related(&dept, &this, &[related(unit)]);
    let hit = x
        .findings
        .iter()
        .find(|f| {
            f.rule_id == "XR-05"
                && f.severity == Severity::Error
                && f.locations.iter().any(|l| l.row == row)
        })
        .unwrap_or_else(|| panic!("no XR-05 error on {row}: {:#?}", x.findings));
    assert!(hit.message.contains("大于"), "{}", hit.message);
    // The department's line and the unit's line, each with its report.
    let dept_loc = hit.locations.iter().find(|l| {
        l.report
            .as_ref()
            .is_some_and(|r| r.scope == gouji_domain::Scope::Department)
    });
    let unit_loc = hit.locations.iter().find(|l| {
        l.report
            .as_ref()
            .is_some_and(|r| r.scope == gouji_domain::Scope::Unit)
    });
    assert!(dept_loc.is_some_and(|l| l.line > 0), "{hit:#?}");
    assert!(
        unit_loc.is_some_and(|l| l.text.contains(&raised) || l.line > 0),
        "{hit:#?}"
    );
}

/// XR-02 on a 决算: S0 says «与上年相比，收入总计减少1,884.42万元» (line 413) of its 2,781.88; a
/// prior year whose 公开01 总计 is 2,781.88 + 1,884.42 = 4,666.30 agrees, one of 2,781.88 does not.
#[test]
fn a_final_accounts_change_is_checked_against_the_prior_final_accounts() {
    let Some(text) = seed_bytes(0).map(|b| String::from_utf8(b).unwrap()) else {
        return;
    };
    let current = parse_document(text.as_bytes()).expect("parses");
    let prior_text = |total: &str| {
        let t = text[..text.rfind("第三部分 情况说明").unwrap()].replace("2024", "2023");
        t.replacen(
            "总计\t31\t2781.88\t总计\t62\t2781.88",
            &format!("总计\t31\t{total}\t总计\t62\t{total}"),
            1,
        )
    };
    let this = ReportRef::of(&current);
    let run = |total: &str| {
        let prior = parse_document(prior_text(total).as_bytes()).expect("parses");
        validate_related(&current, &this, &[related(prior)])
    };
    let on_413 = |x: &gouji_domain::rules::RelatedValidation| {
        x.checks
            .iter()
            .filter(|c| c.line == 413 && c.rule_id == "XR-02")
            .map(|c| c.outcome.clone())
            .collect::<Vec<_>>()
    };
    let right = run("4666.30");
    assert!(
        on_413(&right).iter().any(|o| o.starts_with("一致")),
        "{:#?}",
        right.checks
    );
    assert!(!right.findings.iter().any(|f| f.rule_id == "XR-02"
        && f.locations[0].line == 413
        && f.message.contains("收入总计")));
    let wrong = run("2781.88");
    assert!(
        on_413(&wrong).iter().any(|o| o.starts_with("不一致")),
        "{:#?}",
        wrong.checks
    );
    let f = wrong
        .findings
        .iter()
        .find(|f| f.rule_id == "XR-02" && f.locations[0].line == 413)
        .expect("XR-02 on line 413");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.actual, Some("4666.30".parse().unwrap()), "{f:#?}");
    assert_eq!(f.expected, Some("2781.88".parse().unwrap()));
}

/// XR-04: S0 (a 2024 决算) read with S2 (a 2024 预算) as if it were the same unit's budget: S0's
/// «社会保障和就业支出年初预算49.25万元» and two more 类 differ from S2's 表5 (38.87, 992.81,
/// 32.96); with S0's figures set to those, nothing is found.
#[test]
fn a_final_accounts_initial_budget_is_checked_against_the_budget() {
    let (Some(s0), Some(s2)) = (seed_bytes(0), seed_bytes(2)) else {
        return;
    };
    let budget = parse_document(&s2).expect("parses");
    let text = String::from_utf8(s0).unwrap();
    let check = |t: &str| {
        let r = parse_document(t.as_bytes()).expect("parses");
        let this = ReportRef::of(&r);
        validate_related(&r, &this, &[related(budget.clone())])
            .findings
            .into_iter()
            .filter(|f| f.rule_id == "XR-04")
            .collect::<Vec<_>>()
    };
    let found = check(&text);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().all(|f| f.severity == Severity::Error
        && f.locations.iter().any(|l| {
            l.report
                .as_ref()
                .is_some_and(|r| r.kind == gouji_domain::ReportKind::Budget)
        })));
    let fixed = text
        .replace(
            "社会保障和就业支出年初预算49.25万元",
            "社会保障和就业支出年初预算38.87万元",
        )
        .replace(
            "卫生健康支出年初预算3,974.80万元",
            "卫生健康支出年初预算992.81万元",
        )
        .replace(
            "住房保障支出年初预算45.76万元",
            "住房保障支出年初预算32.96万元",
        );
    assert_eq!(check(&fixed), vec![]);
}

/// XR-06: the prior year's report printed under another name is a warning; the same name none.
#[test]
fn a_renamed_unit_is_a_warning() {
    let (Some(current), Some(prior)) = (
        corpus("jiangsu_jcy_2018_bmys"),
        corpus("jiangsu_jcy_2017_bmys"),
    ) else {
        return;
    };
    let this = ReportRef::of(&current);
    let same = validate_related(&current, &this, &[related(prior.clone())]);
    assert!(!same.findings.iter().any(|f| f.rule_id == "XR-06"));
    let mut renamed = prior;
    renamed.subject = "江苏省检察院".into();
    let x = validate_related(&current, &this, &[related(renamed)]);
    let w: Vec<_> = x.findings.iter().filter(|f| f.rule_id == "XR-06").collect();
    assert_eq!(w.len(), 1, "{w:#?}");
    assert_eq!(w[0].severity, Severity::Warning);
    assert!(w[0].message.contains("江苏省检察院"));
}
