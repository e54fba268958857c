//! Gouji domain crate: everything about 预算/决算 disclosures that is not transport or storage.
//!
//! - [`model`]: a report as facts keyed by (canonical table, row, column), with provenance,
//!   plus the 情况说明 (narrative) figures;
//! - [`amount`]: exact decimal amounts and their units (元 / 万元);
//! - [`codes`]: 支出功能分类 and 部门预算支出经济分类 code lists;
//! - [`template`]: table templates of the seed families, loaded from data files;
//! - [`catalog`]: canonical tables (what a table means) and the families read by the generic
//!   reader (how a province prints them), loaded from data files;
//! - [`document`]: one document model for every source format (pages → text lines and table
//!   rows of cells, each with its origin); PDF and Excel readers fill it;
//! - [`parse`]: disclosure text (or a [`document::Document`]) → [`model::Report`];
//! - [`rules`]: the 勾稽 rule catalog and its engine;
//! - [`consolidate`]: rolling units up into a 部门汇总;
//! - [`synth`]: deterministic synthetic unit reports for consolidation tests, demos and benchmarks;
//! - [`hostile`]: deterministic hostile documents for the work-bound tests;
//! - [`work`]: the caps of one parse and cooperative cancellation of parsing and validation.
//!
//! Invariant: this crate knows nothing of tonic, prost or sqlx, and never uses floats for money.

pub mod amount;
pub mod catalog;
pub mod codes;
pub mod consolidate;
pub mod document;
pub mod hostile;
pub mod model;
pub mod parse;
pub mod rules;
pub mod synth;
pub mod template;
pub mod work;

pub use amount::MeasureUnit;
pub use model::{Fact, Report, ReportKind, Scope, UnitType};
pub use parse::{ParseError, Reader, parse_document, parse_document_with, parse_model};
