//! The `gouji` command as a finance reviewer runs it: `check` on a real disclosure (text and
//! JSON, exit status), and output into a pipe that closes early.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn gouji() -> Command {
    Command::new(env!("CARGO_BIN_EXE_gouji"))
}

/// Seed S0 (柳林县医疗保险服务中心 2024年度决算), from `../shared/seeds` beside the repository.
fn seed_s0() -> PathBuf {
    let dir = std::env::var_os("GOUJI_SEEDS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/seeds"));
    dir.join("000_e600a360417d5f58.txt")
}

#[test]
fn check_groups_findings_by_severity_quotes_both_lines_and_exits_1() {
    let out = gouji().arg("check").arg(seed_s0()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "error findings → exit status 1");
    let text = String::from_utf8(out.stdout).unwrap();
    let errors = text
        .find("错误 (2)")
        .expect("an error group with 2 findings");
    let warnings = text.find("警告 (1)").expect("a warning group");
    assert!(errors < warnings, "errors are listed first:\n{text}");
    // The 劳务费 finding quotes the narrative line and the 公开06 line it contradicts.
    let labour = text
        .lines()
        .position(|l| l.contains("劳务费19.92万元") && l.contains("[NR-01]"))
        .expect("NR-01 劳务费 finding");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[labour].contains("19.52"), "{}", lines[labour]);
    assert!(
        lines[labour + 1].contains("第471行"),
        "{}",
        lines[labour + 1]
    );
    assert!(
        lines[labour + 2].contains("第307行"),
        "{}",
        lines[labour + 2]
    );
    assert!(
        lines[labour + 2].contains("劳务费\t19.52"),
        "{}",
        lines[labour + 2]
    );
}

#[test]
fn check_json_carries_values_locations_and_the_suspect_side() {
    let out = gouji()
        .args(["check", "--format", "json"])
        .arg(seed_s0())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = v[0]["findings"].as_array().unwrap();
    let labour = findings
        .iter()
        .find(|f| f["rule_id"] == "NR-01" && f["actual"] == "19.92")
        .expect("NR-01 with actual 19.92");
    assert_eq!(labour["severity"], "error");
    assert_eq!(labour["expected"], "19.52");
    assert_eq!(labour["difference"], "0.40");
    let locations = labour["locations"].as_array().unwrap();
    assert_eq!(locations.len(), 2);
    assert_eq!(locations[0]["line"], 471);
    assert_eq!(
        locations[0]["suspect"], true,
        "the quoted figure is the suspect"
    );
    assert_eq!(locations[1]["table"], "公开06");
    assert_eq!(locations[1]["row"], "30226");
    assert_eq!(v[0]["valid"], false);
}

#[test]
fn unreadable_file_is_exit_2_with_a_message() {
    let out = gouji()
        .args(["check", "/nonexistent/report.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn output_into_a_pipe_closed_early_is_not_a_panic() {
    let mut child = gouji()
        .args(["parse", "--format", "json"])
        .arg(seed_s0())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read a little, then close our end, like `| head -c 100`.
    let mut first = [0u8; 100];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(first.starts_with(b"{"));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(status.success(), "{status:?}: {stderr}");
}

/// A corpus document (`../shared/corpus` beside the repository, or `$GOUJI_CORPUS`).
fn corpus(stem: &str) -> PathBuf {
    let dir = std::env::var_os("GOUJI_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
        });
    let path = dir.join(format!("{stem}.txt"));
    assert!(
        path.exists(),
        "corpus document {} missing: set GOUJI_CORPUS",
        path.display()
    );
    path
}

#[test]
fn check_of_two_years_checks_each_against_the_other_and_names_the_report_used() {
    let out = gouji()
        .arg("check")
        .arg(corpus("jiangsu_jcy_2018_bmys"))
        .arg(corpus("jiangsu_jcy_2017_bmys"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // 2018 names 2017 as its prior-year report; 2017 has none (2016 was not given).
    assert!(
        lines[0]
            .contains("jiangsu_jcy_2018_bmys.txt: 对照 上年同类报告：江苏省人民检察院 2017年预算"),
        "{}",
        lines[0]
    );
    assert!(
        text.contains("jiangsu_jcy_2017_bmys.txt: 无相关报告"),
        "{text}"
    );
    // «财政拨款支出增加 3,958.98 万元» implies 17,981.98; 2017 prints 17,981.68 (line 322):
    // the finding quotes 2018's sentence and 2017's table row, naming that report.
    let at = lines
        .iter()
        .position(|l| l.contains("[XR-03]") && l.contains("17,981.98"))
        .unwrap_or_else(|| panic!("XR-03 finding:\n{text}"));
    let quoted: Vec<&str> = lines[at + 1..]
        .iter()
        .take_while(|l| l.starts_with("      "))
        .copied()
        .collect();
    assert!(
        quoted
            .iter()
            .any(|l| l.contains("→") && l.contains("增加 3,958.98")),
        "{quoted:#?}"
    );
    assert!(
        quoted
            .iter()
            .any(|l| l.contains("[江苏省人民检察院 2017年预算（部门）]") && l.contains("17,981.68")),
        "{quoted:#?}"
    );
}
