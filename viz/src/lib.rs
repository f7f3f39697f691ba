//! # wardtwin-viz: the trainer's visual ward
//!
//! The twin of a scenario (the same files that run headless and live) in a Bevy 2D floor plan
//! with an egui central station, for trainers: pause, step and speed; the instructor injects
//! events live (they become scenario events, so the session reruns headless byte for byte);
//! the trainee escalates from the central station, and the escalations are alerts in schema
//! v1, scored like any system under test. `--screenshot` renders offscreen with no window and
//! no X server (software Vulkan where there is no GPU); `--bench-frames` measures frame times.
//!
//! Layout: [`model`] (what the view knows, fed by records; no Bevy), [`live`] (the twin on its
//! own thread), [`scene`] (the Bevy floor plan), [`station`] (egui), [`inject`] (injections
//! as scenario events), [`trainee`] (escalations as alerts), [`app`] (assembly, headless
//! screenshots, frame-time bench). It is built in its own cargo invocation: building it with
//! the headless crates would unify Bevy's rendering features into them
//! (docs/architecture.md).

pub mod app;
pub mod debrief;
pub mod inject;
pub mod live;
pub mod model;
pub mod publish;
pub mod replay;
pub mod scene;
pub mod stack;
pub mod station;
pub mod trainee;

use std::collections::HashMap;
use std::path::PathBuf;

use bevy::prelude::*;

pub use app::{Args, Outcome, run};

/// This frame's copy of the model (taken under the lock once, read without it).
#[derive(Resource)]
pub struct Frame(pub model::WardModel);

/// This frame's copy of the session's status.
#[derive(Resource, Default)]
pub struct FrameStatus(pub live::Status);

/// The render target's size in logical pixels.
#[derive(Resource, Debug, Clone, Copy)]
pub struct ScreenSize(pub Vec2);

/// What the people at the screen chose.
#[derive(Resource, Debug, Clone)]
pub struct UiState {
    /// The bed shown large, with its waveforms.
    pub selected: Option<usize>,
    /// A selection made in a list, to be sent to the session.
    pub pending_select: bool,
    /// The instructor's view: the truth instead of what the monitors show.
    pub truth: bool,
    /// Alarms acknowledged, by bed: the priority acknowledged (a new, higher one is not).
    pub acked: HashMap<usize, model::Priority>,
    /// Audio paused until this simulation time.
    pub silenced_until: Option<i64>,
    pub esc_class: usize,
    pub esc_priority: wardtwin_scoring::model::Priority,
    pub inj_kind: usize,
    pub inj_target: String,
    /// The injection's bed follows the selected bed until a target is chosen by hand.
    pub inj_follow: bool,
    pub inj_duration: String,
    pub inj_develop: String,
    pub local_log: Vec<String>,
    pub picked: Option<station::Pick>,
    pub staff: Vec<String>,
    pub assets: Vec<String>,
    pub station_width: f32,
    /// The plan has not been fitted yet (the first fit may show one ward of a wide site).
    pub first_view: bool,
    /// A replay: the timeline's marks (no injections, no escalations).
    pub replay: Option<Vec<replay::Mark>>,
    /// Rendering for a screenshot: nothing blinks, and where things were drawn is noted.
    pub screenshot: bool,
    /// Where this frame drew what (for a screenshot's map, which its tests check the pixels of).
    pub map: ShotMap,
}

/// Where a frame drew the tiles, the plan and the ECG strip, in logical pixels
/// (`[x0, y0, x1, y1]`); written next to a screenshot as `<file>.json`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ShotMap {
    /// Bed id → its tile's head and the alarm priority it shows.
    pub tiles: std::collections::BTreeMap<String, TileMap>,
    /// The area left to the floor plan.
    pub plan: [f32; 4],
    /// Where the plan's own bounds landed in it.
    pub plan_bounds: [f32; 4],
    pub ecg_strip: Option<[f32; 4]>,
    pub selected: Option<String>,
    pub sim_time: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TileMap {
    pub head: [f32; 4],
    pub tile: [f32; 4],
    pub priority: &'static str,
    pub text: String,
    /// The numbers as drawn: `hr`, `spo2`, `rr`, `nibp`, `temp`, `news2`.
    pub values: std::collections::BTreeMap<&'static str, String>,
}

/// A rectangle as `[x0, y0, x1, y1]`.
pub fn corners(r: bevy_egui::egui::Rect) -> [f32; 4] {
    [r.min.x, r.min.y, r.max.x, r.max.y]
}

impl UiState {
    pub fn new(scenario: &wardtwin_scenarios::Scenario) -> Self {
        Self {
            selected: None,
            pending_select: false,
            truth: false,
            acked: HashMap::new(),
            silenced_until: None,
            esc_class: 0,
            esc_priority: wardtwin_scoring::model::Priority::High,
            inj_kind: 0,
            inj_target: String::new(),
            inj_follow: true,
            inj_duration: "20m".into(),
            inj_develop: "2h".into(),
            local_log: Vec::new(),
            picked: None,
            staff: scenario.staff.iter().map(|s| s.id.clone()).collect(),
            assets: scenario.assets.iter().map(|a| a.id.clone()).collect(),
            station_width: 560.0,
            first_view: true,
            replay: None,
            screenshot: false,
            map: ShotMap::default(),
        }
    }
}

/// Where a screenshot goes and when it is taken.
#[derive(Debug, Clone)]
pub struct ScreenshotSpec {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    /// Taken of a real window (an X server is needed) instead of offscreen.
    pub window: bool,
}
