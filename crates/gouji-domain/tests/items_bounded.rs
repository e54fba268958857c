//! NR-17…NR-19 (the per-项 paragraphs, `rules/items.rs`) cost linear time in the document: a
//! budget whose function table has many 项 rows and whose text has as many «…（款）…（项）X万元»
//! paragraphs, half under distinct names and half repeating one name, at two sizes, parse +
//! validate compared by this thread's CPU time (the bound of `bounded.rs`: × 8 for × 4 the
//! input; linear is × 4, quadratic × 16). Each paragraph looked its 项 up in every table row and
//! each repeated one compared itself with every earlier paragraph: ×13.2 measured before
//! (debug build: 0.44 s and 5.8 s); now ×4.5 (0.18 s and 0.82 s).

use std::time::Duration;

use gouji_domain::rules::{Context, validate};

/// A 2024 单位预算 with `n` coded 项 rows and `n` item paragraphs.
fn document(n: usize) -> String {
    let han = |k: usize| char::from_u32(0x4e00 + (k % 20_000) as u32).expect("CJK");
    let mut text = String::from("示例单位2024年单位预算\n");
    text.push_str("预算单位一般公共预算支出功能分类预算表\n单位：万元\n科目编码\t科目名称\t合计\n");
    for i in 0..n {
        let (a, b) = (han(i), han(i * 7 + 3));
        text.push_str(&format!("2{:06}\t{b}{a}运行\t1.00\n", i % 999_999));
    }
    text.push_str("四、单位预算编制说明\n");
    for i in 0..n {
        let (a, b) = if i % 2 == 0 {
            (han(i), han(i * 7 + 3))
        } else {
            (han(0), han(3))
        };
        text.push_str(&format!(
            "{a}{b}事务（款）{b}{a}运行（项）支出{}.00万元，主要用于日常运行。\n",
            1 + i % 3
        ));
    }
    text
}

fn cost(doc: &str) -> Duration {
    gouji_domain::hostile::parse_validate_cpu(doc.as_bytes(), 2)
}

#[test]
fn item_paragraphs_cost_linear_time() {
    let floor = Duration::from_millis(5);
    let (small, large) = (document(1_000), document(4_000));
    // The paragraphs are read as items: the repeated ones are NR-19 findings.
    let r = gouji_domain::parse_document(small.as_bytes()).unwrap();
    let v = validate(&r, &Context::default());
    assert!(
        v.findings.iter().any(|f| f.rule_id == "NR-19"),
        "no item read"
    );
    let (ts, tl) = (cost(&small), cost(&large));
    let ratio = tl.max(floor).as_secs_f64() / ts.max(floor).as_secs_f64();
    eprintln!("1,000 paragraphs {ts:?}, 4,000 paragraphs {tl:?}: ×{ratio:.1}");
    assert!(
        ratio < 8.0,
        "1,000 paragraphs {ts:?}, 4,000 paragraphs {tl:?}: ×{ratio:.1}"
    );
}
