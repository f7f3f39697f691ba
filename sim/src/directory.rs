//! The directory: stable string ids behind the dense indices used in hot paths.

use crate::records::{BedIx, DeviceIx, DeviceKind, PatientIx};

#[derive(Debug, Clone, PartialEq)]
pub struct BedInfo {
    /// `W1-07`
    pub id: String,
    pub ward: String,
    pub room: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatientInfo {
    pub id: String,
    pub bed: BedIx,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// `ecg-W1-07`
    pub id: String,
    pub kind: DeviceKind,
    pub patient: Option<PatientIx>,
    pub bed: Option<BedIx>,
    /// The ward it belongs to (a patient's devices: the bed's ward).
    pub ward: String,
}

/// A space of the site plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SpaceInfo {
    pub id: String,
    pub ward: Option<String>,
    pub zone: String,
    pub kind: &'static str,
}

/// An RTLS receiver (a BLE receiver or UWB anchor).
#[derive(Debug, Clone, PartialEq)]
pub struct ReceiverInfo {
    pub id: String,
    /// Index into [`Directory::spaces`].
    pub space: u32,
    pub x_m: f32,
    pub y_m: f32,
}

/// Every bed, patient and device of a run, each list sorted by stable id, so that a dense index
/// means the same thing whatever order things were spawned in.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "ecs", derive(bevy_ecs::resource::Resource))]
pub struct Directory {
    pub beds: Vec<BedInfo>,
    pub patients: Vec<PatientInfo>,
    pub devices: Vec<DeviceInfo>,
    /// The site plan's spaces (scenario order).
    pub spaces: Vec<SpaceInfo>,
    /// RTLS receivers (scenario order).
    pub receivers: Vec<ReceiverInfo>,
}

impl Directory {
    pub fn bed(&self, ix: BedIx) -> &BedInfo {
        &self.beds[ix.0 as usize]
    }
    pub fn patient(&self, ix: PatientIx) -> &PatientInfo {
        &self.patients[ix.0 as usize]
    }
    pub fn device(&self, ix: DeviceIx) -> &DeviceInfo {
        &self.devices[ix.0 as usize]
    }
    pub fn bed_of_patient(&self, ix: PatientIx) -> &BedInfo {
        self.bed(self.patient(ix).bed)
    }
}
