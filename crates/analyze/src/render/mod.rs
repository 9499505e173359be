//! Renderers of a [`crate::report::Report`] for people: the text report, the sequence diagram (SVG)
//! and the Markdown section of the worksheet, in English or Indonesian, with hosts named.
//!
//! - [`text`]: the default format, the findings as text;
//! - [`events`]: the report as arrows between hosts in time order, with repeats folded;
//! - [`svg`]: `--format svg`, the sequence diagram;
//! - [`markdown`]: `--format md`, the findings for the worksheet report;
//! - [`lang`]: `--lang en|id`;
//! - [`names`]: `--names FILE` and Docker's container names: `mqtt-sub (172.18.0.4)`.

pub mod events;
pub mod lang;
pub mod markdown;
pub mod names;
pub mod svg;
pub mod text;

pub use lang::Lang;
pub use names::Names;

/// What every renderer of this module takes besides the report.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub lang: Lang,
    pub names: Names,
    /// The title (default: the capture's file names).
    pub title: Option<String>,
}

/// The capture's file names without their directories, for titles.
pub fn file_names(report: &crate::report::Report) -> String {
    report
        .capture
        .files
        .iter()
        .map(|f| {
            std::path::Path::new(f)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| f.clone())
        })
        .collect::<Vec<_>>()
        .join(", ")
}
