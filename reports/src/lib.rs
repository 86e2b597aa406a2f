//! Reports: the documented result schema and every renderer (○/× table, CSV, JSON, Markdown,
//! HTML, JUnit) over one shared grid layout.

#![warn(missing_docs)]

pub mod csv;
pub mod diff;
pub mod html;
pub mod junit;
pub mod lang;
pub mod layout;
pub mod markdown;
pub mod schema;
pub mod table;
pub mod weak;

pub use sshmatrix_core::i18n::Lang;

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

/// Renders a report in a format, in the language of [`sshmatrix_core::i18n::current`].
pub fn render(report: &Report, format: Format) -> String {
    render_in(report, format, sshmatrix_core::i18n::current())
}

/// Renders a report in a format and a language. The data formats (CSV, JSON, JUnit) carry ids
/// and codes, the same in every language.
pub fn render_in(report: &Report, format: Format, lang: Lang) -> String {
    match format {
        Format::Table => table::render(report, lang),
        Format::Csv => csv::render(report),
        Format::Json => serde_json::to_string_pretty(report).expect("report serializes") + "\n",
        Format::Markdown => markdown::render(report, false, lang),
        Format::MarkdownHtml => markdown::render(report, true, lang),
        Format::Sheet => markdown::render_sheet(report, lang),
        Format::Html => html::render(report, lang),
        Format::Junit => junit::render(report),
    }
}
