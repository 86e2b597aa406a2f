//! Reports: the documented result schema and every renderer (○/× table, CSV, JSON).

pub mod csv;
pub mod schema;
pub mod table;

pub use schema::{CellResult, Report, Verdict, SCHEMA_VERSION};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The grouped ○/× table with legend.
    Table,
    /// One row per cell.
    Csv,
    /// The [`Report`] as pretty JSON.
    Json,
}

/// Renders a report in a format.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => table::render(report),
        Format::Csv => csv::render(report),
        Format::Json => serde_json::to_string_pretty(report).expect("report serializes") + "\n",
    }
}
