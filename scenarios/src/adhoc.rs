//! Ad-hoc faults from the command line (`wardtwin run SCENARIO --fault SPEC`): each spec is
//! turned into the `[[event]]` it stands for and added to the scenario's timeline, where it is
//! validated like any other event. A spec that names a file adds that file's `[[event]]`s (a
//! drill file).
//!
//! ```text
//! uplink WARD down DURATION at TIME
//! uplink WARD flap DURATION every PERIOD at TIME
//! uplink WARD degrade DURATION [latency D] [jitter D] [loss SHARE] [bandwidth MSG_PER_S] at TIME
//! broker down DURATION [persistent] at TIME
//! broker restart [BOOT] [persistent] at TIME
//! wifi WARD down DURATION at TIME
//! radio WARD interference DURATION DB at TIME
//! device BED DEVICE_KIND away DURATION at TIME
//! gateway WARD crash [DURATION] [persistent|volatile] at TIME
//! gateway WARD power DURATION [persistent|volatile] at TIME
//! battery WARD wave DURATION [SHARE] at TIME
//! clock WARD step ±DURATION at TIME
//! clock WARD drift ±PPM at TIME
//! clock BED DEVICE_KIND drift ±PPM at TIME
//! clock BED DEVICE_KIND step ±DURATION at TIME
//! ```
//!
//! `TIME` is an offset from the scenario's epoch, like an event's `at` (`03:00`, `90m`).

/// The `[[event]]` TOML of one spec, or what was expected.
pub fn event_toml(spec: &str) -> Result<String, String> {
    let words: Vec<&str> = spec.split_whitespace().collect();
    let Some(at_pos) = words.iter().rposition(|w| *w == "at") else {
        return Err("expected `... at TIME` (an offset from the epoch, e.g. `at 03:00`)".into());
    };
    let (body, tail) = words.split_at(at_pos);
    let at = match tail {
        [_, t] => *t,
        _ => return Err("expected one TIME after `at`".into()),
    };
    let quote = |s: &str| -> Result<String, String> {
        if s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '+'))
        {
            Ok(format!("\"{s}\""))
        } else {
            Err(format!("unexpected characters in {s:?}"))
        }
    };
    let spool = |w: Option<&&str>| -> Result<Option<String>, String> {
        match w.copied() {
            None => Ok(None),
            Some(s @ ("persistent" | "volatile")) => Ok(Some(format!("spool = \"{s}\"\n"))),
            Some(other) => Err(format!("expected persistent or volatile, found {other:?}")),
        }
    };
    let mut ev = format!("\n[[event]]\nat = {}\n", quote(at)?);
    match body {
        ["uplink", ward, "down", d] => {
            ev += &format!(
                "ward = {}\nkind = \"uplink_outage\"\nduration = {}\n",
                quote(ward)?,
                quote(d)?
            );
        }
        ["uplink", ward, "flap", d, "every", p] => {
            ev += &format!(
                "ward = {}\nkind = \"uplink_flapping\"\nduration = {}\nperiod = {}\n",
                quote(ward)?,
                quote(d)?,
                quote(p)?
            );
        }
        ["uplink", ward, "degrade", d, rest @ ..] if rest.len() % 2 == 0 => {
            ev += &format!(
                "ward = {}\nkind = \"uplink_degraded\"\nduration = {}\n",
                quote(ward)?,
                quote(d)?
            );
            for pair in rest.chunks(2) {
                let number = |v: &str| -> Result<f64, String> {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| format!("expected a number after {}, found {v:?}", pair[0]))
                };
                ev += &match pair[0] {
                    "latency" | "jitter" => format!("{} = {}\n", pair[0], quote(pair[1])?),
                    "loss" | "bandwidth" => format!("{} = {:?}\n", pair[0], number(pair[1])?),
                    other => {
                        return Err(format!(
                            "expected latency, jitter, loss or bandwidth, found {other:?}"
                        ));
                    }
                };
            }
        }
        ["broker", how @ ("down" | "restart"), rest @ ..] if rest.len() <= 2 => {
            let kind = if *how == "down" {
                "broker_outage"
            } else {
                "broker_restart"
            };
            ev += &format!("kind = \"{kind}\"\n");
            let mut rest = rest.iter().peekable();
            if let Some(d) = rest.next_if(|w| **w != "persistent") {
                ev += &format!("duration = {}\n", quote(d)?);
            }
            match rest.next() {
                None => {}
                Some(&"persistent") => ev += "persistence = true\n",
                Some(other) => return Err(format!("expected persistent, found {other:?}")),
            }
        }
        ["radio", ward, "interference", d, db] => {
            let v: f64 = db
                .trim_end_matches("dB")
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| format!("expected the extra loss in dB, found {db:?}"))?;
            ev += &format!(
                "ward = {}\nkind = \"radio_interference\"\nduration = {}\nattenuation = {v:?}\n",
                quote(ward)?,
                quote(d)?
            );
        }
        ["device", bed, device, "away", d] => {
            ev += &format!(
                "bed = {}\ndevice = {}\nkind = \"out_of_coverage\"\nduration = {}\n",
                quote(bed)?,
                quote(device)?,
                quote(d)?
            );
        }
        ["wifi", ward, "down", d] => {
            ev += &format!(
                "ward = {}\nkind = \"wifi_outage\"\nduration = {}\n",
                quote(ward)?,
                quote(d)?
            );
        }
        ["gateway", ward, "crash", rest @ ..] if rest.len() <= 2 => {
            ev += &format!("ward = {}\nkind = \"gateway_crash\"\n", quote(ward)?);
            let mut rest = rest.iter().peekable();
            if let Some(d) = rest.next_if(|w| !matches!(**w, "persistent" | "volatile")) {
                ev += &format!("duration = {}\n", quote(d)?);
            }
            ev += &spool(rest.next())?.unwrap_or_default();
        }
        ["gateway", ward, "power", d, rest @ ..] if rest.len() <= 1 => {
            ev += &format!(
                "ward = {}\nkind = \"gateway_power_loss\"\nduration = {}\n",
                quote(ward)?,
                quote(d)?
            );
            ev += &spool(rest.first())?.unwrap_or_default();
        }
        ["battery", ward, "wave", d, rest @ ..] if rest.len() <= 1 => {
            ev += &format!(
                "ward = {}\nkind = \"battery_wave\"\nduration = {}\n",
                quote(ward)?,
                quote(d)?
            );
            if let Some(share) = rest.first() {
                let v: f64 = share
                    .parse()
                    .map_err(|_| format!("expected a share from 0 to 1, found {share:?}"))?;
                ev += &format!("share = {v:?}\n");
            }
        }
        ["clock", target @ .., "drift", ppm] if matches!(target.len(), 1 | 2) => {
            let v: f64 = ppm
                .trim_end_matches("ppm")
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| format!("expected the extra drift in ppm, found {ppm:?}"))?;
            ev += &match target {
                [ward] => format!("ward = {}\n", quote(ward)?),
                _ => format!(
                    "bed = {}\ndevice = {}\n",
                    quote(target[0])?,
                    quote(target[1])?
                ),
            };
            ev += &format!("kind = \"clock_drift\"\ndrift = {v:?}\n");
        }
        ["clock", ward, "step", by] => {
            ev += &format!(
                "ward = {}\nkind = \"clock_step\"\nstep = {}\n",
                quote(ward)?,
                quote(by)?
            );
        }
        ["clock", bed, device, "step", by] => {
            ev += &format!(
                "bed = {}\ndevice = {}\nkind = \"clock_step\"\nstep = {}\n",
                quote(bed)?,
                quote(device)?,
                quote(by)?
            );
        }
        _ => {
            return Err("expected one of: `uplink WARD down DURATION`, `uplink WARD flap DURATION every PERIOD`, \
                 `uplink WARD degrade DURATION [latency D] [jitter D] [loss SHARE] [bandwidth MSG_PER_S]`, \
                 `broker down DURATION [persistent]`, `broker restart [BOOT] [persistent]`, \
                 `wifi WARD down DURATION`, `radio WARD interference DURATION DB`, \
                 `device BED DEVICE_KIND away DURATION`, `gateway WARD crash [DURATION] [persistent|volatile]`, \
                 `gateway WARD power DURATION [persistent|volatile]`, `battery WARD wave DURATION [SHARE]`, \
                 `clock WARD step ±DURATION`, `clock BED DEVICE_KIND step ±DURATION`, \
                 `clock WARD drift ±PPM`, `clock BED DEVICE_KIND drift ±PPM`, then `at TIME`"
                .into());
        }
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_become_the_events_they_stand_for() {
        assert_eq!(
            event_toml("uplink W2 down 20m at 03:00").unwrap(),
            "\n[[event]]\nat = \"03:00\"\nward = \"W2\"\nkind = \"uplink_outage\"\nduration = \"20m\"\n"
        );
        assert!(
            event_toml("gateway W1 crash persistent at 1h")
                .unwrap()
                .contains("kind = \"gateway_crash\"\nspool = \"persistent\"\n")
        );
        assert!(
            event_toml("gateway W1 crash 5m at 1h")
                .unwrap()
                .contains("duration = \"5m\"")
        );
        assert_eq!(
            event_toml("uplink W2 degrade 20m latency 2s loss 0.1 at 03:00").unwrap(),
            "\n[[event]]\nat = \"03:00\"\nward = \"W2\"\nkind = \"uplink_degraded\"\nduration = \"20m\"\nlatency = \"2s\"\nloss = 0.1\n"
        );
        assert_eq!(
            event_toml("broker restart persistent at 1h").unwrap(),
            "\n[[event]]\nat = \"1h\"\nkind = \"broker_restart\"\npersistence = true\n"
        );
        assert!(
            event_toml("radio W1 interference 10m 20dB at 1h")
                .unwrap()
                .contains(
                    "kind = \"radio_interference\"\nduration = \"10m\"\nattenuation = 20.0\n"
                )
        );
        assert!(
            event_toml("device W1-03 ecg_patch away 45m at 1h")
                .unwrap()
                .contains("bed = \"W1-03\"\ndevice = \"ecg_patch\"\nkind = \"out_of_coverage\"")
        );
        assert!(
            event_toml("clock W1-03 pulse_oximeter drift -800 at 2h")
                .unwrap()
                .contains("bed = \"W1-03\"\ndevice = \"pulse_oximeter\"\nkind = \"clock_drift\"\ndrift = -800.0\n")
        );
        assert!(
            event_toml("clock W1 drift 500ppm at 2h")
                .unwrap()
                .contains("ward = \"W1\"\nkind = \"clock_drift\"\ndrift = 500.0\n")
        );
        assert!(
            event_toml("broker down 10m at 1h")
                .unwrap()
                .contains("kind = \"broker_outage\"\nduration = \"10m\"\n")
        );
        assert!(
            event_toml("battery W1 wave 20m 0.3 at 2h")
                .unwrap()
                .contains("share = 0.3\n")
        );
        assert!(
            event_toml("clock W1-03 pulse_oximeter step -1h at 04:00")
                .unwrap()
                .contains("bed = \"W1-03\"\ndevice = \"pulse_oximeter\"")
        );
    }

    #[test]
    fn a_bad_spec_says_what_was_expected() {
        for (spec, says) in [
            ("uplink W2 down 20m", "at TIME"),
            ("uplink W2 sideways 20m at 1h", "expected one of"),
            ("uplink W2 down 20m at", "expected one TIME"),
            (
                "gateway W1 power 5m sometimes at 1h",
                "persistent or volatile",
            ),
            ("battery W1 wave 5m lots at 1h", "share"),
            (
                "uplink W1 degrade 5m loss lots at 1h",
                "a number after loss",
            ),
            ("uplink W1 degrade 5m loss at 1h", "expected one of"),
            ("uplink W1 degrade 5m speed 3 at 1h", "latency, jitter"),
            ("broker restart 30s forever at 1h", "persistent"),
            ("radio W1 interference 10m loud at 1h", "in dB"),
            ("uplink W\"2 down 20m at 1h", "unexpected characters"),
        ] {
            let e = event_toml(spec).unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }
}
