//! `gouji`: the command line for finance staff and scripts.
//!
//! - `gouji parse FILE` — read a disclosure document and show what was found;
//! - `gouji check FILE…` — validate locally, no server needed;
//! - `gouji submit / units / reports / aggregate` — talk to the running services;
//! - `gouji demo` — the main job end to end on loopback with SQLite.

mod demo;
mod render;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "gouji",
    version,
    about = "Read, check (勾稽) and consolidate 预算/决算 disclosures"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Readable summary.
    Text,
    /// The whole model as JSON.
    Json,
    /// One line per table cell: table, row, column, amount, unit (tab-separated).
    Cells,
}

#[derive(Subcommand)]
enum Command {
    /// Validate documents locally (no server); exit status 1 when any error finding exists.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// 单位性质 of the reporting unit: 行政, 参公 or 事业.
        #[arg(long)]
        unit_type: Option<String>,
        /// Also list info findings (rounding tails).
        #[arg(long)]
        verbose: bool,
    },
    /// The main job: start the validation service on loopback, validate the bundled sample
    /// reports (and the seeds when ../shared/seeds exists) over gRPC, print the outcome, stop.
    Demo {
        /// Directory of sample reports.
        #[arg(long, default_value = "samples")]
        samples: PathBuf,
        /// Seed directory, used when present.
        #[arg(long, env = "GOUJI_SEEDS", default_value = "../shared/seeds")]
        seeds: PathBuf,
    },
    /// Print the rule catalog as Markdown.
    Rules,
    /// Parse a disclosure document and print what was found.
    Parse {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("gouji: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check {
            files,
            format,
            unit_type,
            verbose,
        } => {
            let unit_type = match unit_type.as_deref() {
                None => None,
                Some(s) => Some(gouji_domain::UnitType::from_label(s).ok_or_else(|| {
                    anyhow::anyhow!("--unit-type must be 行政, 参公 or 事业, not {s}")
                })?),
            };
            let ctx = gouji_domain::rules::Context { unit_type };
            let mut any_error = false;
            let mut json = Vec::new();
            for file in &files {
                let bytes = std::fs::read(file)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
                let report = gouji_domain::parse_document(&bytes)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
                let v = gouji_domain::rules::validate(&report, &ctx);
                any_error |= !v.valid();
                match format {
                    Format::Json => json.push(serde_json::json!({"file": file, "subject": report.subject, "valid": v.valid(), "catalog_version": v.catalog_version, "findings": v.findings})),
                    _ => print!("{}", render::findings(&file.display().to_string(), &report, &v, verbose)),
                }
            }
            if matches!(format, Format::Json) {
                println!("{}", serde_json::to_string_pretty(&json)?);
            }
            Ok(if any_error {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Demo { samples, seeds } => {
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(demo::run(&samples, &seeds))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules => {
            print!("{}", render::rules_markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse { file, format } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let report = gouji_domain::parse_document(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let out = match format {
                Format::Text => render::parse_summary(&report),
                Format::Json => serde_json::to_string_pretty(&report)? + "\n",
                Format::Cells => render::cells(&report),
            };
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
