//! `gouji`: the command line for finance staff and scripts.
//!
//! - `gouji parse FILE` — read a disclosure document and show what was found;
//! - `gouji check FILE…` — validate locally, no server needed;
//! - `gouji submit / units / reports / aggregate` — talk to the running services;
//! - `gouji demo` — the main job end to end on loopback with SQLite.

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
