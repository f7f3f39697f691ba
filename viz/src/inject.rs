//! The instructor's injections, as the scenario events they are: each builds the `[[event]]`
//! body (without `at`, which the session sets to the next step) in the scenario vocabulary of
//! docs/scenarios.md, so it is validated like any scenario event and reruns with `wardtwin run`.

/// What the instructor can start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injection {
    /// A deterioration on a bed: kind and development time.
    Deterioration(Deterioration),
    /// An arrhythmia on a bed.
    Arrhythmia(Arrhythmia),
    /// A probe pulled off (a bed's device).
    ProbeOff(Probe),
    /// A ward's battery devices flattened (a share of them).
    BatteryWave,
    /// A fridge's door left open.
    FridgeDoor,
    /// A fridge's compressor fails.
    Compressor,
    /// A staff member presses the duress button.
    Duress,
    /// A piece of equipment wanders off the site.
    AssetWander,
    /// A ward's Wi-Fi (every receiver) goes down.
    WifiOutage,
    /// A ward gateway's uplink goes down.
    UplinkOutage,
}

pub use wardtwin_sim::records::Deterioration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrhythmia {
    Af,
    Vt,
    Vf,
    Asystole,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Oximeter,
    EcgLeads,
    BpCuff,
    TempPatch,
}

impl Arrhythmia {
    pub const ALL: [Arrhythmia; 4] = [
        Arrhythmia::Af,
        Arrhythmia::Vt,
        Arrhythmia::Vf,
        Arrhythmia::Asystole,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Arrhythmia::Af => "afib",
            Arrhythmia::Vt => "vt",
            Arrhythmia::Vf => "vf",
            Arrhythmia::Asystole => "asystole",
        }
    }
}

impl Probe {
    pub const ALL: [Probe; 4] = [
        Probe::Oximeter,
        Probe::EcgLeads,
        Probe::BpCuff,
        Probe::TempPatch,
    ];
    pub fn device(self) -> &'static str {
        match self {
            Probe::Oximeter => "pulse_oximeter",
            Probe::EcgLeads => "ecg_patch",
            Probe::BpCuff => "bp_cuff",
            Probe::TempPatch => "temp_patch",
        }
    }
}

/// The target and parameters of an injection, as the instructor set them.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Bed, fridge, staff member, asset or ward id, as the injection needs.
    pub target: String,
    /// How long (a scenario duration: `20m`, `2h`), for those that last.
    pub duration: String,
    /// A deterioration's development time.
    pub develop: String,
}

/// Scenario text can only take what its TOML strings take: ids and durations are plain words.
fn word(s: &str) -> Result<&str, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        Ok(s)
    } else {
        Err(format!(
            "{s:?}: expected an id or a duration (letters, digits, - _ . :)"
        ))
    }
}

impl Injection {
    /// A short label for the session's log.
    pub fn label(self, p: &Params) -> String {
        let what = match self {
            Injection::Deterioration(d) => format!("{} over {}", d.name(), p.develop),
            Injection::Arrhythmia(a) => format!("{} for {}", a.name(), p.duration),
            Injection::ProbeOff(d) => format!("{} off for {}", d.device(), p.duration),
            Injection::BatteryWave => format!("battery wave for {}", p.duration),
            Injection::FridgeDoor => format!("door open for {}", p.duration),
            Injection::Compressor => "compressor failure".into(),
            Injection::Duress => "duress button".into(),
            Injection::AssetWander => "wanders off site".into(),
            Injection::WifiOutage => format!("Wi-Fi down for {}", p.duration),
            Injection::UplinkOutage => format!("uplink down for {}", p.duration),
        };
        format!("{} on {}", what, p.target)
    }

    /// The `[[event]]` body (everything but `at`).
    pub fn toml(self, p: &Params) -> Result<String, String> {
        let t = word(&p.target)?;
        Ok(match self {
            Injection::Deterioration(d) => format!(
                "bed = \"{t}\"\nkind = \"{}\"\ndevelop = \"{}\"\n",
                d.name(),
                word(&p.develop)?
            ),
            Injection::Arrhythmia(a) => format!(
                "bed = \"{t}\"\nkind = \"{}\"\nduration = \"{}\"\n",
                a.name(),
                word(&p.duration)?
            ),
            Injection::ProbeOff(d) => format!(
                "bed = \"{t}\"\nkind = \"probe_off\"\ndevice = \"{}\"\nduration = \"{}\"\n",
                d.device(),
                word(&p.duration)?
            ),
            Injection::BatteryWave => format!(
                "ward = \"{t}\"\nkind = \"battery_wave\"\nduration = \"{}\"\nshare = 0.33\n",
                word(&p.duration)?
            ),
            Injection::FridgeDoor => format!(
                "fridge = \"{t}\"\nkind = \"door_open\"\nduration = \"{}\"\n",
                word(&p.duration)?
            ),
            Injection::Compressor => format!("fridge = \"{t}\"\nkind = \"compressor_failure\"\n"),
            Injection::Duress => format!("staff = \"{t}\"\nkind = \"duress\"\n"),
            Injection::AssetWander => {
                format!("asset = \"{t}\"\nkind = \"asset_wander\"\nto = \"EXIT\"\n")
            }
            Injection::WifiOutage => format!(
                "ward = \"{t}\"\nkind = \"wifi_outage\"\nduration = \"{}\"\n",
                word(&p.duration)?
            ),
            Injection::UplinkOutage => format!(
                "ward = \"{t}\"\nkind = \"uplink_outage\"\nduration = \"{}\"\n",
                word(&p.duration)?
            ),
        })
    }

    /// What kind of target it takes.
    pub fn target_kind(self) -> Target {
        match self {
            Injection::Deterioration(_) | Injection::Arrhythmia(_) | Injection::ProbeOff(_) => {
                Target::Bed
            }
            Injection::FridgeDoor | Injection::Compressor => Target::Fridge,
            Injection::Duress => Target::Staff,
            Injection::AssetWander => Target::Asset,
            Injection::BatteryWave | Injection::WifiOutage | Injection::UplinkOutage => {
                Target::Ward
            }
        }
    }

    /// Every injection, for the instructor's menu.
    pub fn menu() -> Vec<(String, Injection)> {
        let mut v: Vec<(String, Injection)> = Deterioration::ALL
            .iter()
            .map(|d| {
                (
                    format!("deterioration: {}", d.name()),
                    Injection::Deterioration(*d),
                )
            })
            .collect();
        v.extend(Arrhythmia::ALL.iter().map(|a| {
            (
                format!("arrhythmia: {}", a.name()),
                Injection::Arrhythmia(*a),
            )
        }));
        v.extend(Probe::ALL.iter().map(|p| {
            (
                format!("pull probe: {}", p.device()),
                Injection::ProbeOff(*p),
            )
        }));
        v.extend([
            ("battery wave (ward)".to_string(), Injection::BatteryWave),
            ("fridge door open".to_string(), Injection::FridgeDoor),
            ("fridge compressor fails".to_string(), Injection::Compressor),
            ("duress button".to_string(), Injection::Duress),
            ("asset wanders off".to_string(), Injection::AssetWander),
            ("ward Wi-Fi down".to_string(), Injection::WifiOutage),
            ("gateway uplink down".to_string(), Injection::UplinkOutage),
        ]);
        v
    }
}

/// What an injection acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Bed,
    Fridge,
    Staff,
    Asset,
    Ward,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(target: &str) -> Params {
        Params {
            target: target.into(),
            duration: "20m".into(),
            develop: "2h".into(),
        }
    }

    #[test]
    fn every_injection_is_a_valid_scenario_event() {
        let base = wardtwin_scenarios::LIBRARY
            .iter()
            .find(|(n, _)| *n == "hospital-day")
            .expect("hospital-day")
            .1;
        let s = wardtwin_scenarios::parse(base, "hospital-day").expect("parses");
        for (name, inj) in Injection::menu() {
            let target = match inj.target_kind() {
                Target::Bed => s.beds[3].id.clone(),
                Target::Fridge => s.fridges[0].id.clone(),
                Target::Staff => s.staff[0].id.clone(),
                Target::Asset => s.assets[0].id.clone(),
                Target::Ward => s.wards[0].id.clone(),
            };
            let body = inj.toml(&params(&target)).expect(&name);
            let text = format!("{base}\n[[event]]\nat = \"01:00\"\n{body}");
            let r = wardtwin_scenarios::parse(&text, "with injection");
            assert!(r.is_ok(), "{name}: {body}\n{:?}", r.err());
        }
    }

    #[test]
    fn a_target_with_toml_syntax_is_refused() {
        let inj = Injection::Duress;
        assert!(inj.toml(&params("N1\"\nkind = \"x")).is_err());
        assert!(inj.toml(&params("")).is_err());
        assert!(
            inj.toml(&params("Pflege-Ü")).is_ok(),
            "multi-byte letters are ids"
        );
    }
}
