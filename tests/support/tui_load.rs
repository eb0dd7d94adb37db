//! A capture decoded as the TUI's producer decodes it, and loaded into an
//! [`App`]: shared by the key-level TUI tests.
#![allow(dead_code)]

use std::path::Path;

use rtmpscope::capture::{PacketSource, SourceOptions};
use rtmpscope::event::Event;
use rtmpscope::pipeline::{Analyzer, Config};
use rtmpscope::tui::app::App;
use rtmpscope::tui::{Batch, TuiOptions};

/// Every event of `cap`, decoded with the default configuration.
pub fn decode(cap: &Path) -> Vec<Event> {
    let mut src = PacketSource::open_file(cap, &SourceOptions::default()).unwrap();
    let mut a = Analyzer::new(Config::default());
    let mut events = Vec::new();
    while let Some(p) = src.next_packet().unwrap() {
        a.handle_packet(&p, &mut events);
    }
    a.finish(None, &mut events);
    events
}

/// An [`App`] made with `opts` that has ingested `events`, sessions synced.
pub fn app_with(opts: TuiOptions, events: Vec<Event>) -> App {
    let mut app = App::new(opts);
    app.ingest(Batch {
        events,
        ..Batch::default()
    });
    app.model.sync_sessions();
    app
}

/// [`app_with`] on every event of `cap`.
pub fn load(cap: &Path, opts: TuiOptions) -> App {
    app_with(opts, decode(cap))
}
