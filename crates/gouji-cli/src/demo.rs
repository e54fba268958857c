//! `gouji demo`: the main job end to end on loopback.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context as _;
use gouji_proto::validation::v1::validation_service_client::ValidationServiceClient;
use gouji_proto::validation::v1::{
    ListRulesRequest, ValidateReportRequest, validate_report_request::Input,
};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Finds a sibling binary of the running `gouji` (they are built into the same directory).
fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let p = exe.with_file_name(name);
    anyhow::ensure!(
        p.exists(),
        "{} not found next to {} (run `cargo build --workspace`)",
        name,
        exe.display()
    );
    Ok(p)
}

fn documents(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "txt"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

pub(crate) async fn run(samples: &Path, seeds: &Path) -> anyhow::Result<()> {
    let bin = sibling("gouji-validation")?;
    let mut child = tokio::process::Command::new(&bin)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await?
            .context("gouji-validation exited before listening")?;
        if let Some(a) = line.split("listening on ").nth(1) {
            break a.trim().to_string();
        }
    };
    println!("gouji-validation started on {addr}");
    let mut client = ValidationServiceClient::connect(format!("http://{addr}"))
        .await?
        .max_decoding_message_size(64 << 20);
    let rules = client.list_rules(ListRulesRequest {}).await?.into_inner();
    println!(
        "rule catalog {} — {} rules\n",
        rules.catalog_version,
        rules.rules.len()
    );
    let mut files = documents(samples);
    if seeds.is_dir() {
        files.extend(documents(seeds));
    } else {
        println!(
            "(no seeds at {}; validating the bundled samples only)\n",
            seeds.display()
        );
    }
    println!(
        "{:<48} {:>5} {:>5} {:>5}  verdict",
        "report", "错误", "警告", "提示"
    );
    for f in &files {
        let bytes = std::fs::read(f)?;
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        match client
            .validate_report(ValidateReportRequest {
                input: Some(Input::Document(bytes)),
                context: None,
            })
            .await
        {
            Ok(resp) => {
                let r = resp.into_inner();
                let subject = r
                    .report
                    .as_ref()
                    .map(|x| x.subject.clone())
                    .unwrap_or_default();
                println!(
                    "{:<48} {:>5} {:>5} {:>5}  {}",
                    format!("{subject} ({name})")
                        .chars()
                        .take(46)
                        .collect::<String>(),
                    r.error_count,
                    r.warning_count,
                    r.info_count,
                    if r.valid { "可公开" } else { "须修改" }
                );
                for finding in r.findings.iter().filter(|x| x.severity == 3).take(3) {
                    println!(
                        "    [{}] {}",
                        finding.rule_id,
                        finding.message.chars().take(110).collect::<String>()
                    );
                }
            }
            Err(status) => println!("{name:<48} rejected: {}", status.message()),
        }
    }
    // Graceful stop: SIGTERM, then wait.
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
    }
    let _ = child.wait().await;
    println!("\ngouji-validation stopped. Details for one report: gouji check FILE --verbose");
    Ok(())
}
