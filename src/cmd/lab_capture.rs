//! `sister lab --capture DIR`: each pattern's traffic on `lo`, saved and analysed.
//!
//! While a pattern's scenario runs, a live capture on `lo` (the same `capture::session` as
//! `sister capture`) writes `DIR/<pattern>.pcap`; when it ends, the capture is analysed and the report
//! written as `DIR/<pattern>.md` with its sequence diagram `DIR/<pattern>.svg`, ready for the worksheet.
//! Everything on `lo` during the scenario is kept (the servers listen on ports chosen at run time).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use capture::filter::Filter;
use capture::session::{Options, Session, Summary};
use capture::write::TsResolution;

/// A capture running during one scenario.
pub struct Recording {
    pcap: PathBuf,
    stop: Arc<AtomicBool>,
    thread: tokio::task::JoinHandle<anyhow::Result<Summary>>,
}

impl Recording {
    /// Start capturing `lo` into `dir/<pattern>.pcap`, keeping the packets `filter` matches (`sister
    /// lab --web` leaves out the page's own HTTP traffic on loopback).
    pub fn start(dir: &Path, pattern: &str, filter: Filter) -> anyhow::Result<Recording> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let pcap = dir.join(format!("{pattern}.pcap"));
        let session = Session::open(Options {
            iface: "lo".to_string(),
            snaplen: capture::live::DEFAULT_SNAPLEN,
            write: Some(pcap.clone()),
            resolution: TsResolution::Micros,
            count: None,
            duration: None,
            filter,
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = tokio::task::spawn_blocking(move || Ok(session.run(&flag, |_, _| {})?));
        Ok(Recording { pcap, stop, thread })
    }

    /// Stop (after a moment for the last packets), close the file, write the report; returns a line
    /// saying what was written.
    /// The pcap file being written.
    pub fn pcap(&self) -> &Path {
        &self.pcap
    }

    pub async fn stop(self) -> anyhow::Result<String> {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.stop.store(true, Ordering::Relaxed);
        let summary = self
            .thread
            .await
            .context("the capture thread stopped unexpectedly")??;
        let pcap = self.pcap;
        let analysis = tokio::task::spawn_blocking({
            let pcap = pcap.clone();
            move || analyze::analyze_files(&[pcap], &analyze::Options::default())
        })
        .await
        .context("the analysis thread stopped unexpectedly")??;
        let opts = analyze::render::Options::default();
        let svg_path = pcap.with_extension("svg");
        let md_path = pcap.with_extension("md");
        std::fs::write(&svg_path, analyze::render::svg::render(&analysis.report, &opts))
            .with_context(|| format!("cannot write {}", svg_path.display()))?;
        let link = svg_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let md = analyze::render::markdown::render(
            &analysis.report,
            &opts,
            &analyze::render::markdown::Diagram::Link(link),
        );
        std::fs::write(&md_path, md).with_context(|| format!("cannot write {}", md_path.display()))?;
        Ok(format!(
            "captured {} packets on lo: {} (report {}, diagram {})",
            summary.matched,
            pcap.display(),
            md_path.display(),
            svg_path.display()
        ))
    }
}
