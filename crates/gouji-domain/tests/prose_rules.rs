//! The reading rules of `rules/prose.rs` (RD-20…RD-22) and NR-04 on a zero base, on small
//! documents written as text and read by the parser: what they find, and what they must leave
//! alone (statements, short causes, adapted wording, a missing or unreadable table).

use gouji_domain::parse_document;
use gouji_domain::rules::{Context, Finding, Severity, validate};

/// A 2025 部门预算 in the generic layout: one function table, one 基本支出 table (万元), and a
/// 情况说明 made of `narrative` under two headings.
fn document(basic: &str, narrative: &str) -> String {
    format!(
        "示例市示例局2025年部门预算

2025年部门支出预算总表
编制部门：示例市示例局 单位：万元
项目\t\t\t\t支出预算\t\t
功能分类科目编码\t\t\t功能分类科目名称\t合计\t基本支出\t项目支出
类\t款\t项\t\t\t\t
201\t\t\t一般公共服务支出\t15.00\t10.00\t5.00
201\t3\t\t政府办公厅（室）及相关机构事务\t15.00\t10.00\t5.00
\t\t01\t行政运行\t10.00\t10.00\t
\t\t02\t一般行政管理事务\t5.00\t\t5.00
合计\t\t\t\t15.00\t10.00\t5.00

2025年部门一般公共预算基本支出经济分类预算表
编制部门：示例市示例局 单位：万元
科目编码\t科目名称\t合计\t人员经费\t公用经费
{basic}
一、部门预算编制说明
{narrative}
"
    )
}

const BASIC: &str = "301\t工资福利支出\t8.00\t8.00\t
30101\t基本工资\t8.00\t8.00\t
302\t商品和服务支出\t2.00\t\t2.00
30201\t办公费\t2.00\t\t2.00
30202\t印刷费\t\t\t
合计\t\t10.00\t8.00\t2.00";

fn findings(text: &str, rule: &str) -> Vec<Finding> {
    let r = parse_document(text.as_bytes()).expect("fixture parses");
    validate(&r, &Context::default())
        .findings
        .into_iter()
        .filter(|f| f.rule_id == rule)
        .collect()
}

#[test]
fn a_growth_rate_on_a_zero_base_is_nr04() {
    let zero =
        "行政运行（项）支出10.00万元，与上年相比增加10.00万元，增长100%。主要原因是新设机构。";
    let f = findings(&document(BASIC, zero), "NR-04");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].message.contains("上年数为 0"), "{}", f[0].message);
    // A base of 5.00: a rate is fine (whether it is right is NR-18's).
    let five =
        "行政运行（项）支出10.00万元，与上年相比增加5.00万元，增长100%。主要原因是新设机构。";
    assert_eq!(findings(&document(BASIC, five), "NR-04"), vec![]);
    // The base quoted as 0.
    let quoted = "行政运行支出10.00万元，上年支出0万元，增加10.00万元，增长100%。";
    let f = findings(&document(BASIC, quoted), "NR-04");
    assert_eq!(f.len(), 1, "{f:?}");
}

#[test]
fn the_same_reason_under_two_items_is_rd20_once() {
    let reason = "主要原因是根据任务变化和往年预算执行情况，对部分项目预算数进行了增减调剂。";
    let text = format!(
        "1．政府办公厅（室）及相关机构事务（款）行政运行（项）支出10.00万元，与上年相比增加1.00万元，增长11.11%。{reason}
2．政府办公厅（室）及相关机构事务（款）一般行政管理事务（项）支出5.00万元，与上年相比减少1.00万元，下降16.67%。{reason}"
    );
    let f = findings(&document(BASIC, &text), "RD-20");
    assert_eq!(f.len(), 1, "{f:?}");
    // Neither names an item: a prompt to confirm, not a warning.
    assert_eq!(f[0].severity, Severity::Info);
    assert_eq!(f[0].locations.len(), 2);
    assert!(f[0].message.contains("一般行政管理事务（项）"));
}

#[test]
fn statements_short_causes_and_one_item_twice_are_no_copies() {
    let text = "1．政府办公厅（室）及相关机构事务（款）行政运行（项）支出10.00万元，与上年相比增加1.00万元，增长11.11%。主要原因是工资调整后，随之调整了缴费基数。
2．政府办公厅（室）及相关机构事务（款）一般行政管理事务（项）支出5.00万元，与上年相比增加1.00万元，增长25.00%。主要原因是工资调整后，随之调整了缴费基数。
公务用车购置费0万元，与上年持平，主要原因是本单位不涉及此项业务，故费用不做预算及支出。
公务接待费0万元，与上年持平，主要原因是本单位不涉及此项业务，故费用不做预算及支出。
3．政府办公厅（室）及相关机构事务（款）行政运行（项）支出10.00万元，与上年相比增加1.00万元。主要原因是根据任务变化和往年预算执行情况，对部分项目预算数进行了增减调剂。
4．政府办公厅（室）及相关机构事务（款）行政运行（项）支出10.00万元，与上年相比增加1.00万元。主要原因是根据任务变化和往年预算执行情况，对部分项目预算数进行了增减调剂。";
    assert_eq!(findings(&document(BASIC, text), "RD-20"), vec![]);
}

#[test]
fn a_listed_amount_the_table_prints_blank_is_rd21_and_a_missing_table_is_not_applicable() {
    let text = "二、基本支出预算情况说明
公用经费2.00万元，主要包括：办公费2.00万元、印刷费0.50万元。";
    let f = findings(&document(BASIC, text), "RD-21");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].message.contains("印刷费"), "{}", f[0].message);
    // Named without an amount: only the printed blank row (印刷费) is a hint; 咨询费, not
    // printed, is not judged (a table may print only its non-zero rows).
    let names = "二、基本支出预算情况说明
公用经费2.00万元，主要包括：办公费、印刷费、咨询费。";
    let f = findings(&document(BASIC, names), "RD-21");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Info);
    assert!(f[0].message.contains("“印刷费”"), "{}", f[0].message);
    // Without a 基本支出 table nothing is compared.
    let no_table =
        document(BASIC, text).replace("2025年部门一般公共预算基本支出经济分类预算表", "附表");
    assert_eq!(findings(&no_table, "RD-21"), vec![]);
    // An unreadable 印刷费 cell: not applicable, not 0.
    let garbled = BASIC.replace("30202\t印刷费\t\t\t", "30202\t印刷费\t0.5O\t\t0.5O");
    assert_eq!(findings(&document(&garbled, text), "RD-21"), vec![]);
}

#[test]
fn a_complete_list_leaving_out_an_item_is_rd22_and_a_main_list_is_not() {
    let basic = "301\t工资福利支出\t8.00\t8.00\t
30101\t基本工资\t6.00\t6.00\t
30102\t津贴补贴\t2.00\t2.00\t
302\t商品和服务支出\t2.00\t\t2.00
30201\t办公费\t2.00\t\t2.00
合计\t\t10.00\t8.00\t2.00";
    let complete = "二、基本支出预算情况说明
人员经费8.00万元，包括：基本工资6.00万元。";
    let f = findings(&document(basic, complete), "RD-22");
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(
        f[0].message.contains("30102 津贴补贴 2.00"),
        "{}",
        f[0].message
    );
    for partial in [
        "二、基本支出预算情况说明\n人员经费8.00万元，主要包括：基本工资6.00万元。",
        "二、基本支出预算情况说明\n人员经费8.00万元，包括：基本工资6.00万元等。",
        "二、基本支出预算情况说明\n人员经费8.00万元，包括：基本工资6.00万元、津贴补贴2.00万元。",
    ] {
        assert_eq!(
            findings(&document(basic, partial), "RD-22"),
            vec![],
            "{partial}"
        );
    }
}

#[test]
fn a_三公_reason_copied_word_for_word_is_rd07_only_and_nearly_so_rd20() {
    let car = "公务用车运行维护费支出1.46万元，比上年度增加1.46万元，主要原因是：2022年相关车辆费用在其他科目支出，2023年预算一体化系统严格要求公车维护费走三公经费科目；";
    let exact = "公务接待费支出0.12万元，比上年度增加0.07万元，主要原因是：2022年相关车辆费用在其他科目支出，2023年预算一体化系统严格要求公车维护费走三公经费科目。";
    let text = format!("{car}\n{exact}");
    assert_eq!(findings(&document(BASIC, &text), "RD-07").len(), 1);
    assert_eq!(findings(&document(BASIC, &text), "RD-20"), vec![]);
    // One word changed: not RD-07's, and RD-20 warns (the 接待费 reason speaks of the car).
    let nearly = exact.replace("严格要求", "要求");
    let text = format!("{car}\n{nearly}");
    assert_eq!(findings(&document(BASIC, &text), "RD-07"), vec![]);
    let f = findings(&document(BASIC, &text), "RD-20");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].message.contains("“公务接待费”的原因说明"),
        "{}",
        f[0].message
    );
}

#[test]
fn one_spending_by_function_and_by_item_is_no_copy() {
    let reason = "主要原因是：防控中心原定开展的全市医保基金监管专题活动因故取消，改为线上进行。";
    let text = format!(
        "1．进修及培训（款）培训支出（项）支出48.00万元，决算数小于年初预算数。{reason}\n培训费支出34.54万元，决算数小于预算数。{reason}"
    );
    assert_eq!(findings(&document(BASIC, &text), "RD-20"), vec![]);
    // Under a 项 that is not the 培训费 it is a copy (an info: neither names its item).
    let other = text.replace(
        "进修及培训（款）培训支出（项）",
        "教育管理事务（款）其他教育支出（项）",
    );
    assert_eq!(findings(&document(BASIC, &other), "RD-20").len(), 1);
}

#[test]
fn a_hostile_paragraph_is_read_in_bounded_time() {
    // One sentence of 100 000 reason words and 1 000 item paragraphs with one reason each.
    let mut text = String::from("行政运行（项）支出1.00万元，");
    text.push_str(&"主要原因是无，用于".repeat(100_000));
    text.push('。');
    for i in 0..1_000 {
        text.push_str(&format!(
            "\n{i}．示例（款）第{i}项事务（项）支出1.00万元。主要原因是根据任务变化和往年预算执行情况进行了调剂{i}。"
        ));
    }
    let t = std::time::Instant::now();
    let _ = findings(&document(BASIC, &text), "RD-20");
    assert!(
        t.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        t.elapsed()
    );
}
