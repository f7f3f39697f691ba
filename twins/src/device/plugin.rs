use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use wardtwin_sim::{DirectUplink, FileTransport, SimEnd, SimSet};

pub(crate) use super::systems::plan_devices;
use super::systems::{drain_batteries, flush_open_conditions, run_infusions, stamp_device_events};

/// Device systems: battery drain (dynamics); this step's due devices, then each kind's
/// sensing (registered with [`super::sampling::sensing`] by the plugin that owns the kind).
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSystems {
    Battery,
    Due,
    Sense,
}

/// Wearables and monitors: sampling, noise, clocks, batteries, artifacts.
pub struct DevicePlugin;

impl Plugin for DevicePlugin {
    fn build(&self, app: &mut App) {
        // After the patients: both record conditions (the recorder sorts them either way).
        app.init_resource::<super::due::DueQueue>()
            .init_resource::<super::status::StatusInterval>()
            .init_resource::<super::status::StatusBook>()
            .configure_sets(
                Update,
                DeviceSystems::Battery
                    .in_set(SimSet::Dynamics)
                    .after(crate::rtls::RtlsSystems),
            )
            .configure_sets(
                Update,
                (DeviceSystems::Due, DeviceSystems::Sense)
                    .chain()
                    .in_set(SimSet::Emission),
            )
            .add_systems(
                Update,
                (drain_batteries, run_infusions)
                    .chain()
                    .in_set(DeviceSystems::Battery),
            )
            .add_systems(Update, plan_devices.in_set(SimSet::Plan))
            .add_systems(
                Update,
                super::sampling::collect_due.in_set(DeviceSystems::Due),
            )
            // Every event of the tick has been written (gateways write theirs in Transport).
            .add_systems(
                Update,
                stamp_device_events
                    .in_set(SimSet::Transport)
                    .after(crate::gateway::GatewaySystems),
            )
            // Every reading is forwarded and every event stamped: the status messages they
            // prompt, before the file transport gives them their fates.
            .add_systems(
                Update,
                super::status::report_status
                    .in_set(SimSet::Transport)
                    .after(stamp_device_events)
                    .after(DirectUplink)
                    .before(FileTransport),
            )
            .add_systems(
                SimEnd,
                flush_open_conditions
                    .in_set(SimSet::Dynamics)
                    .after(crate::rtls::RtlsSystems)
                    .before(crate::faults::FaultSystems),
            );
        super::sampling::sensing(app, super::sense::sense_patients);
    }
}
