//! RD-10…RD-12 cost linear time in the document: a text of many «（款）/（类）» markers under
//! distinct names and many coded table rows, at two sizes, parse + validate compared by this
//! thread's CPU time (never an absolute wall-time threshold; see `bounded.rs`). «（项）» items
//! are left out: they are NR-17's paragraphs, whose cost is not these rules'. The bound is
//! `bounded.rs`'s (× 8 for × 4 the input); the whole pipeline measures × 5–6 on this text with or
//! without these rules (their own share grows × 5, the comparisons beyond the exact case being
//! capped per document).

use std::time::Duration;

/// A 2024 单位预算 with `n` coded rows and `n` prose lines quoting distinct names with markers
/// and codes.
fn document(n: usize) -> String {
    let mut text = String::from("示例单位2024年单位预算\n");
    text.push_str("预算单位一般公共预算支出功能分类预算表\n单位：万元\n科目编码\t科目名称\t合计\n");
    for i in 0..n {
        text.push_str(&format!("2{:06}\t名称{i}\t1.00\n", i % 999_999));
    }
    text.push_str("四、单位预算编制说明\n");
    let han = |k: usize| char::from_u32(0x4e00 + (k % 20_000) as u32).expect("CJK");
    for i in 0..n {
        let (a, b) = (han(i), han(i * 7 + 3));
        text.push_str(&format!(
            "{a}{b}事务（款）支出1.00万元，主要用于{a}（类）{b}{a}（款），2{:06}{b}{a}运行支出。\n",
            (i * 13) % 999_999
        ));
    }
    text
}

fn cost(doc: &str) -> Duration {
    gouji_domain::hostile::parse_validate_cpu(doc.as_bytes(), 2)
}

#[test]
fn marked_and_coded_names_cost_linear_time() {
    let floor = Duration::from_millis(5);
    let (small, large) = (document(2_000), document(8_000));
    let (ts, tl) = (cost(&small), cost(&large));
    let ratio = tl.max(floor).as_secs_f64() / ts.max(floor).as_secs_f64();
    // Four times the input: linear is ≈ 4; quadratic would be ≈ 16.
    assert!(
        ratio < 8.0,
        "2,000 lines {ts:?}, 8,000 lines {tl:?}: ×{ratio:.1}"
    );
}
