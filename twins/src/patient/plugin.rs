use bevy_app::{App, Plugin, Update};
use bevy_ecs::prelude::*;
use wardtwin_sim::{SimEnd, SimSet};

use super::systems::{
    close_episodes, evolve, evolve_glucose, flush_open_care_conditions, flush_open_conditions,
    flush_open_episodes, flush_open_rhythms, move_patients, plan_patients, record_conditions,
    record_rhythms, sample_truth, update_circadian,
};

/// The patient systems, in order: circadian terms, evolve, close episodes, sample truth.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PatientSystems;

/// True physiology and deterioration of every [`Patient`](super::Patient). Needs the
/// [`PhysiologyStep`](super::systems::PhysiologyStep) resource (inserted when a ward is spawned).
pub struct PatientPlugin;

impl Plugin for PatientPlugin {
    fn build(&self, app: &mut App) {
        app.configure_sets(Update, PatientSystems.in_set(SimSet::Dynamics))
            .add_systems(Update, plan_patients.in_set(SimSet::Plan))
            .add_systems(
                Update,
                (
                    update_circadian,
                    evolve,
                    close_episodes,
                    record_rhythms,
                    record_conditions,
                    evolve_glucose,
                    move_patients,
                    sample_truth,
                )
                    .chain()
                    .in_set(PatientSystems),
            )
            .configure_sets(SimEnd, PatientSystems.in_set(SimSet::Dynamics))
            .add_systems(
                SimEnd,
                (
                    flush_open_episodes,
                    flush_open_rhythms,
                    flush_open_conditions,
                    flush_open_care_conditions,
                )
                    .chain()
                    .in_set(PatientSystems),
            );
    }
}
