//! Missing is not zero: a cell that cannot be read makes the identities that need it not
//! applicable. A seed with one total and one part garbled as OCR garbles them («278l.88») gets no
//! new error, only the unplaced cells and «无法核对» infos that name them.

mod common;

use common::seed_bytes;
use gouji_domain::rules::{Context, Severity, validate};
use gouji_domain::{Report, parse_document};

/// Replaces, on the source line of `table|row|column`, the cell printing that amount by a garbled
/// copy (its first digit `1` or any digit becomes `l`).
fn garble(text: &str, r: &Report, table: &str, row: &str, column: &str) -> String {
    let f = r
        .fact(table, row, column)
        .unwrap_or_else(|| panic!("{table} {row} {column} missing"));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let line = &mut lines[f.source.line as usize - 1];
    let cells: Vec<String> = line
        .split('\t')
        .map(|c| {
            let plain: String = c.chars().filter(|ch| *ch != ',').collect();
            plain
                .trim()
                .parse::<rust_decimal::Decimal>()
                .ok()
                .filter(|v| *v == f.value)
                .map_or(c.to_string(), |_| {
                    c.replacen(|ch: char| ch.is_ascii_digit(), "l", 1)
                })
        })
        .collect();
    let garbled = cells.join("\t");
    assert_ne!(
        *line, garbled,
        "cell of {table} {row} {column} not found on its line"
    );
    *line = garbled;
    lines.join("\n")
}

fn errors(r: &Report) -> Vec<String> {
    validate(r, &Context::default())
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| format!("{} {}", f.rule_id, f.message))
        .collect()
}

#[test]
fn a_garbled_total_and_part_give_no_new_error_only_cannot_check_infos() {
    let Some(bytes) = seed_bytes(0) else { return };
    let text = String::from_utf8(bytes).unwrap();
    let clean = parse_document(text.as_bytes()).unwrap();
    // S0 公开02: the 合计 row and the 210 类 row of 本年收入合计 (a total and one of its parts).
    let once = garble(&text, &clean, "公开02", "合计", "本年收入合计");
    let once_r = parse_document(once.as_bytes()).unwrap();
    let twice = garble(&once, &once_r, "公开02", "210", "本年收入合计");
    let r = parse_document(twice.as_bytes()).unwrap();

    let t = r.table("公开02").unwrap();
    assert!(
        t.unreadable
            .contains(&("合计".into(), "本年收入合计".into()))
    );
    assert!(
        t.unreadable
            .contains(&("210".into(), "本年收入合计".into()))
    );
    assert!(
        r.fact("公开02", "合计", "本年收入合计").is_none(),
        "no 0 in its place"
    );
    assert!(
        r.unplaced
            .iter()
            .any(|u| u.reason.contains("合计|本年收入合计")),
        "the unplaced entry names the cell: {:?}",
        r.unplaced
    );
    let before = errors(&clean);
    let new: Vec<String> = errors(&r)
        .into_iter()
        .filter(|e| !before.contains(e))
        .collect();
    assert!(new.is_empty(), "new errors after garbling: {new:#?}");
    let infos: Vec<_> = validate(&r, &Context::default())
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::Info && f.message.contains("无法核对"))
        .collect();
    assert!(
        !infos.is_empty(),
        "an info «无法核对» names the unreadable cell"
    );
    assert!(
        infos
            .iter()
            .any(|f| f.message.contains("公开02 合计 本年收入合计"))
    );
}

#[test]
fn a_quoted_amount_whose_cell_is_not_printed_is_not_compared_with_zero() {
    let Some(bytes) = seed_bytes(0) else { return };
    let text = String::from_utf8(bytes).unwrap();
    // S0 line 467 quotes «人员经费471.80万元», which 公开06 人员经费合计 prints (line 315): no
    // finding. With that cell left blank the table says nothing about it, so there is nothing
    // to compare — before, the blank was read as 0 («与 公开06 人员经费合计 决算数 的 0.00 万元不一致»).
    let staff = |r: &Report| {
        validate(r, &Context::default())
            .findings
            .into_iter()
            .filter(|f| f.rule_id == "NR-01" && f.message.contains("人员经费471.80"))
            .map(|f| f.message)
            .collect::<Vec<_>>()
    };
    let clean = parse_document(text.as_bytes()).unwrap();
    assert_eq!(
        clean.value("公开06", "人员经费合计", "决算数"),
        Some("471.80".parse().unwrap())
    );
    assert_eq!(staff(&clean), Vec::<String>::new());
    let blanked = text.replacen("人员经费合计\t\t471.80\t", "人员经费合计\t\t\t", 1);
    assert_ne!(blanked, text, "line 315 not found");
    let r = parse_document(blanked.as_bytes()).unwrap();
    assert_eq!(r.value("公开06", "人员经费合计", "决算数"), None);
    assert_eq!(staff(&r), Vec::<String>::new());
}
