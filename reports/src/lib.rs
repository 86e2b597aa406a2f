//! Reports: the documented result schema and every renderer (○/× table, CSV, JSON, Markdown,
//! HTML, JUnit) over one shared grid layout.

#![warn(missing_docs)]

pub mod csv;
pub mod diff;
pub mod html;
pub mod junit;
pub mod layout;
pub mod markdown;
pub mod schema;
pub mod table;
pub mod weak;

pub use schema::{
    Advice, CellCode, CellResult, Code, Header, Holder, Report, Stage, Verdict, SCHEMA_VERSION,
};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The grouped ○/× table with legend.
    Table,
    /// One row per cell.
    Csv,
    /// The [`Report`] as pretty JSON.
    Json,
    /// Markdown for documentation: a pipe table (grouped column labels joined in one header).
    Markdown,
    /// Markdown with an HTML table where column headers are grouped (they span their columns).
    MarkdownHtml,
    /// A compatibility sheet for documentation pages: ✓/✗ with numbered footnotes saying why.
    Sheet,
    /// One self-contained HTML file; cells show reason and evidence on hover and click.
    Html,
    /// JUnit XML, one testcase per cell.
    Junit,
}

/// Renders a report in a format.
pub fn render(report: &Report, format: Format) -> String {
    match format {
        Format::Table => table::render(report),
        Format::Csv => csv::render(report),
        Format::Json => serde_json::to_string_pretty(report).expect("report serializes") + "\n",
        Format::Markdown => markdown::render(report, false),
        Format::MarkdownHtml => markdown::render(report, true),
        Format::Sheet => markdown::render_sheet(report),
        Format::Html => html::render(report),
        Format::Junit => junit::render(report),
    }
}
