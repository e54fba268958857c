//! Garbage in: a clear error or an explicit list of unplaced content, never a panic.

use gouji_domain::{ParseError, parse_document};
use proptest::prelude::*;

#[test]
fn empty_and_whitespace_documents_are_rejected() {
    assert_eq!(parse_document(b""), Err(ParseError::Empty));
    assert_eq!(parse_document(" \n\t\n".as_bytes()), Err(ParseError::Empty));
}

#[test]
fn binary_bytes_are_rejected_with_the_offset() {
    assert_eq!(
        parse_document(b"%PDF-1.7\n\x00\x01\x02"),
        Err(ParseError::Binary { offset: 9 })
    );
    assert!(matches!(
        parse_document(&[0xff, 0xfe, 0x41]),
        Err(ParseError::NotText { offset: 0 })
    ));
}

#[test]
fn a_chinese_article_without_tables_is_rejected() {
    let article = "春天来了，万物复苏。\n公园里的花开了，人们在湖边散步，孩子们放风筝。\n2024年，本市接待游客1,200万人次，增长12.5%。\n";
    match parse_document(article.as_bytes()) {
        Err(ParseError::NoTables { lines }) => assert_eq!(lines, 3),
        other => panic!("expected NoTables, got {other:?}"),
    }
}

#[test]
fn a_table_cut_off_mid_row_is_reported_as_unplaced() {
    let doc = "示例县医疗保险服务中心\n2024年度单位决算公开\n收入决算表\n公开02表\n部门名称：示例县医疗保险服务中心\n金额单位：万元\n\
               项目\t\t本年收入合计\t财政拨款收入\t上级补助收入\t事业收入\t经营收入\t附属单位上缴收入\t其他收入\n\
               合计\t\t100.00\t100.00\t\t\t\t\t\n210\t卫生健康支出\t100.00";
    let r = parse_document(doc.as_bytes()).expect("partial table still parses");
    assert_eq!(
        r.value("公开02", "210", "本年收入合计")
            .map(|v| v.to_string())
            .as_deref(),
        Some("100.00")
    );
    assert!(
        r.unplaced
            .iter()
            .any(|u| u.reason.contains("cut off") && u.line == 9),
        "the truncated last row is reported: {:?}",
        r.unplaced
    );
}

#[test]
fn oversized_documents_are_rejected() {
    let big = vec![b'a'; gouji_domain::parse::MAX_DOCUMENT_BYTES + 1];
    assert!(matches!(
        parse_document(&big),
        Err(ParseError::TooLarge { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, max_shrink_iters: 200, ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse_document(&bytes);
    }

    /// Table-shaped text built from the vocabulary of real reports never panics, and every fact
    /// points at a real line whose text it quotes.
    #[test]
    fn table_shaped_text_never_panics(lines in proptest::collection::vec(
        proptest::collection::vec(prop_oneof![
            Just("收入支出决算总表".to_string()), Just("公开01表".to_string()), Just("公开06表".to_string()),
            Just("合计".to_string()), Just("2101501".to_string()), Just("301".to_string()), Just("30101".to_string()),
            Just("人员经费合计".to_string()), Just("——".to_string()), Just("".to_string()), Just("预算数".to_string()),
            Just("一、一般公共预算财政拨款收入".to_string()), Just("总计".to_string()), Just("单位：元".to_string()),
            "[0-9]{1,6}\\.[0-9]{2}", "-?[0-9,]{1,9}", "[\\u4e00-\\u9fa5]{1,8}", Just("表一".to_string()), Just("①".to_string()),
        ], 0..8), 0..60)) {
        let text: String = lines.iter().map(|cells| cells.join("\t")).collect::<Vec<_>>().join("\n");
        if let Ok(r) = parse_document(text.as_bytes()) {
            for f in &r.facts {
                prop_assert!(f.source.line >= 1);
                prop_assert_eq!(&r.lines[f.source.line as usize - 1], &f.source.text);
            }
        }
    }
}
