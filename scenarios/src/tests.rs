use super::*;

const MINIMAL: &str = r#"[scenario]
name = "t"
epoch = 2026-03-02T00:00:00Z
duration = "2h"
seed = 1

[[ward]]
id = "W1"
beds = 4
"#;

/// Parses `MINIMAL` with `extra` appended and returns the error.
fn error_of(extra: &str) -> Located {
    let text = format!("{MINIMAL}{extra}");
    match parse(&text, "t.toml") {
        Ok(_) => panic!("expected an error for:\n{extra}"),
        Err(e) => e
            .located()
            .cloned()
            .unwrap_or_else(|| panic!("not located: {e}")),
    }
}

/// The 1-based line of `needle` in the full text.
fn line_of(extra: &str, needle: &str) -> usize {
    let text = format!("{MINIMAL}{extra}");
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle")
        + 1
}

#[test]
fn every_library_scenario_is_valid() {
    let lib = library();
    let names: Vec<&str> = lib.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "quickstart",
            "ward-baseline-24h",
            "hospital-1000-24h",
            "cold-chain-failure",
            "asset-hunt",
            "hospital-day",
            "cardiac-ward",
            "drill-ward-wifi-night",
            "drill-gateway-power",
            "drill-flapping-uplink",
            "drill-battery-wave",
            "drill-clock-step",
            "drill-broker-restart"
        ]
    );
    let h = &lib[5];
    assert_eq!(h.beds.len(), 192);
    assert_eq!(
        (h.assets.len(), h.staff.len()),
        (192, 36),
        "1 asset and 0.2 staff per bed"
    );
    assert_eq!(h.fridges.len(), 7);
    let cc = &lib[3];
    assert_eq!(cc.fridges.len(), 3);
    assert_eq!(cc.fridges[2].kind, StorageKind::Freezer);
    let q = &lib[0];
    assert_eq!(q.beds.len(), 24);
    assert_eq!(q.duration_ms, 24 * 3_600_000);
    assert_eq!(q.beds[6].id, "W1-07");
    assert_eq!(q.beds[6].room, "W1-R2");
    let kinds: Vec<_> = q
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Deterioration { .. }))
        .collect();
    assert_eq!(kinds.len(), 2);
    assert_eq!(lib[2].beds.len(), 1000);
}

#[test]
fn minimal_scenario_gets_documented_defaults() {
    let s = parse(MINIMAL, "t.toml").unwrap();
    assert_eq!(s.step_ms, 1000);
    assert_eq!(s.truth_interval_ms, 60_000);
    assert_eq!(s.population.kit, "standard");
    assert_eq!(s.kits["standard"].devices.len(), 4);
    assert_eq!(
        s.epoch_ms,
        wardtwin_sim::time::days_from_civil(2026, 3, 2) * 86_400_000
    );
    assert_eq!(s.sha256.len(), 64);
}

#[test]
fn unknown_key_names_the_key_and_its_place() {
    let extra = "\n[population]\noccupancy = 0.9\nocupancy = 0.9\n";
    let e = error_of(extra);
    assert_eq!((e.line, e.column), (line_of(extra, "ocupancy"), 1), "{e}");
    assert!(e.message.contains("unknown field `ocupancy`"), "{e}");
    assert!(e.message.contains("expected one of"), "{e}");
    assert_eq!(e.file, "t.toml");
}

#[test]
fn wrong_type_says_what_was_expected() {
    let extra = "\n[population]\noccupancy = \"most\"\n";
    let e = error_of(extra);
    assert_eq!((e.line, e.column), (line_of(extra, "most"), 13), "{e}");
    assert!(e.message.contains("expected f64"), "{e}");
}

#[test]
fn a_bed_that_does_not_exist_is_pointed_at() {
    let extra = "\n[[event]]\nat = \"01:00\"\nbed = \"W1-09\"\nkind = \"sepsis\"\n";
    let e = error_of(extra);
    assert_eq!((e.line, e.column), (line_of(extra, "W1-09"), 7), "{e}");
    assert!(e.message.contains("no bed `W1-09`"), "{e}");
    assert!(e.message.contains("W1-01..W1-04"), "{e}");
}

#[test]
fn an_event_after_the_run_ends_is_rejected() {
    let extra = "\n[[event]]\nat = \"3h\"\nbed = \"W1-02\"\nkind = \"sepsis\"\n";
    let e = error_of(extra);
    assert_eq!(e.line, line_of(extra, "3h"), "{e}");
    assert!(e.message.contains("not inside the run"), "{e}");
    assert!(e.message.contains("2h"), "{e}");
}

#[test]
fn rhythm_events_are_checked_where_they_are_written() {
    let cases = [
        (
            "kind = \"vt\"\nrate = 90.0\nduration = \"30s\"",
            "90.0",
            "101 to 300",
        ),
        (
            "kind = \"vf\"\nthen = \"death\"\nduration = \"1m\"",
            "death",
            "`sinus` or `arrest`",
        ),
        (
            "kind = \"vt\"\nbeats = 5\nduration = \"1m\"",
            "beats",
            "not both",
        ),
        (
            "kind = \"vf\"\nthen = \"arrest\"",
            "vf",
            "give its `duration`",
        ),
        ("kind = \"afib\"\nbeats = 5", "beats", "`beats`"),
        ("kind = \"pvcs\"\nduration = \"5m\"", "pvcs", "needs `rate"),
        (
            "kind = \"pvcs\"\nrate = 1e308\nduration = \"5m\"",
            "1e308",
            "at most 30",
        ),
    ];
    for (body, at, says) in cases {
        let extra = format!("\n[[event]]\nat = \"1h\"\nbed = \"W1-02\"\n{body}\n");
        let e = error_of(&extra);
        assert_eq!(e.line, line_of(&extra, at), "{body}: {e}");
        assert!(e.message.contains(says), "{body}: {e}");
    }
    let ok = "\n[[event]]\nat = \"1h\"\nbed = \"W1-02\"\nkind = \"vt\"\nbeats = 9\nrate = 180.0\nthen = \"arrest\"\n";
    let s = parse(&format!("{MINIMAL}{ok}"), "t.toml").unwrap();
    let ev = s
        .events
        .iter()
        .find(|e| matches!(e.kind, EventKind::Rhythm { .. }))
        .unwrap();
    assert_eq!(
        ev.kind,
        EventKind::Rhythm {
            rhythm: wardtwin_sim::records::Rhythm::VentricularTachycardia,
            duration_ms: Some(3_000),
            rate: Some(180.0),
            arrest: true
        }
    );
}

#[test]
fn unknown_event_kind_lists_the_known_ones() {
    let extra = "\n[[event]]\nat = \"1h\"\nbed = \"W1-02\"\nkind = \"stroke\"\n";
    let e = error_of(extra);
    assert_eq!(e.line, line_of(extra, "stroke"));
    assert!(
        e.message
            .contains("sepsis, respiratory_failure, haemorrhage, afib, vt, vf, asystole, heart_block, pvcs, hypoglycaemia, pump_occlusion, bed_exit, motion_artifact, probe_off, compression_low, door_open, compressor_failure, power_outage, probe_failure"),
        "{e}"
    );
}

#[test]
fn artifact_on_a_device_the_patient_does_not_wear() {
    let extra = "\n[kit.lite]\ndevices = [{ kind = \"ecg_patch\" }]\n[population]\nkit = \"lite\"\n\n[[event]]\nat = \"1h\"\nbed = \"W1-02\"\nkind = \"probe_off\"\ndevice = \"pulse_oximeter\"\nduration = \"5m\"\n";
    let e = error_of(extra);
    assert_eq!(e.line, line_of(extra, "device = \"pulse"));
    assert!(e.message.contains("wears no pulse_oximeter"), "{e}");
}

#[test]
fn fields_that_do_not_apply_to_an_event_kind_are_rejected() {
    let extra = "\n[[event]]\nat = \"1h\"\nbed = \"W1-02\"\nkind = \"sepsis\"\nduration = \"5m\"\n";
    let e = error_of(extra);
    assert!(
        e.message
            .contains("`duration` does not apply to a `sepsis` event"),
        "{e}"
    );
}

#[test]
fn bad_durations_and_device_kinds_are_explained() {
    let e = error_of("\n[[event]]\nat = \"noon\"\nbed = \"W1-02\"\nkind = \"sepsis\"\n");
    assert!(e.message.contains("expected e.g."), "{e}");
    let e = error_of("\n[kit.x]\ndevices = [{ kind = \"smartwatch\" }]\n");
    assert!(e.message.contains("unknown variant `smartwatch`"), "{e}");
    assert!(e.message.contains("ecg_patch"), "{e}");
}

#[test]
fn epoch_without_offset_is_rejected() {
    let text = MINIMAL.replace("2026-03-02T00:00:00Z", "2026-03-02T00:00:00");
    let e = parse(&text, "t.toml").unwrap_err();
    let l = e.located().unwrap();
    assert_eq!((l.line, l.column), (3, 9), "{e}");
    assert!(l.message.contains("UTC offset"), "{e}");
}

#[test]
fn broken_toml_syntax_is_located() {
    let e = parse("[scenario\nname = 1\n", "x.toml").unwrap_err();
    let l = e.located().unwrap();
    assert_eq!(l.line, 1, "{e}");
}

#[test]
fn error_display_has_a_code_frame() {
    let extra = "\n[population]\noccupancy = 1.5\n";
    let e = error_of(extra);
    let shown = e.to_string();
    let first = shown.lines().next().unwrap();
    assert_eq!(
        first,
        format!(
            "t.toml:{}:13: occupancy must be a fraction from 0 to 1, found 1.5",
            line_of(extra, "1.5")
        )
    );
    assert!(shown.contains("occupancy = 1.5"));
    assert!(shown.ends_with('^'));
}

#[test]
fn load_finds_library_names_and_reports_missing_ones() {
    assert_eq!(load("quickstart").unwrap().name, "quickstart");
    let e = load("nonesuch").unwrap_err().to_string();
    assert!(
        e.contains("built-in: quickstart, ward-baseline-24h, hospital-1000-24h"),
        "{e}"
    );
}

#[test]
fn population_count_and_occupancy_exclude_each_other_and_count_fits_the_beds() {
    let e = error_of("\n[population]\ncount = 3\noccupancy = 0.5\n");
    assert!(e.message.contains("either `count` or `occupancy`"), "{e}");
    let e = error_of("\n[population]\ncount = 9\n");
    assert!(e.message.contains("more than the 4 beds"), "{e}");
    let e = error_of("\n[population]\ncount = 0\n[[patient]]\nbed = \"W1-02\"\n");
    assert!(e.message.contains("less than the 1 beds"), "{e}");
    let s = parse(&format!("{MINIMAL}\n[population]\ncount = 2\n"), "t.toml").unwrap();
    assert_eq!(s.population.count, Some(2));
}

#[test]
fn gates_are_parsed_and_a_bad_one_points_at_the_fault() {
    let s = parse(
        &format!("{MINIMAL}\n[scoring]\ngates = [\"sensitivity.deterioration >= 0.9\", 'latency_p90.deterioration <= \"15m\"']\n"),
        "t.toml",
    )
    .unwrap();
    assert_eq!(s.gates.len(), 2);
    let extra = "\n[scoring]\ngates = [\"sensitivity.deterioraton >= 0.9\"]\n";
    let e = error_of(extra);
    assert_eq!(e.line, line_of(extra, "deterioraton"));
    // The column points at the class, after `gates = ["sensitivity.`.
    assert_eq!(e.column, "gates = [\"sensitivity.".len() + 1);
    assert!(e.message.contains("unknown class"), "{}", e.message);
}

#[test]
fn a_fridge_event_names_a_fridge_and_a_bed_event_a_bed() {
    let fridge = "\n[[fridge]]\nid = \"VAC\"\nward = \"W1\"\n";
    let e = error_of(&format!(
        "{fridge}[[event]]\nat = \"1h\"\nbed = \"W1-02\"\nkind = \"door_open\"\nduration = \"2m\"\n"
    ));
    assert!(
        e.message
            .contains("`bed` does not apply to a `door_open` event"),
        "{e}"
    );
    let e = error_of(&format!(
        "{fridge}[[event]]\nat = \"1h\"\nfridge = \"VAX\"\nkind = \"power_outage\"\nduration = \"2h\"\n"
    ));
    assert!(
        e.message.contains("no fridge `VAX`: expected one of: VAC"),
        "{e}"
    );
    assert_eq!(e.column, 10, "{e}");
    let e = error_of(&format!(
        "{fridge}[[event]]\nat = \"1h\"\nfridge = \"VAC\"\nkind = \"power_outage\"\n"
    ));
    assert!(e.message.contains("needs `duration"), "{e}");
    let e = error_of("\n[[event]]\nat = \"1h\"\nkind = \"bed_exit\"\nduration = \"2m\"\n");
    assert!(e.message.contains("needs `bed = "), "{e}");
    let e = error_of(&format!("{fridge}kind = \"chiller\"\n"));
    assert!(e.message.contains("expected fridge or freezer"), "{e}");
    let e = error_of("\n[kit.k]\ndevices = [{ kind = \"cgm\", only = \"diabetic\" }]\n");
    assert!(
        e.message.contains("expected one of diabetes, fall_risk"),
        "{e}"
    );
}

#[test]
fn an_explicit_floor_plan_is_used_and_a_missing_room_is_pointed_at() {
    let plan = "\n[[space]]\nid = \"W1-COR\"\nward = \"W1\"\nkind = \"corridor\"\nrect = [0, 6, 30, 3]\nconnects = [\"MAIN\"]\n\
                [[space]]\nid = \"W1-R1\"\nward = \"W1\"\nkind = \"room\"\nrect = [0, 0, 6, 6]\nconnects = [\"W1-COR\"]\n";
    let e = error_of(plan);
    assert!(
        e.message
            .contains("explicit floor plan but no room `W1-R2` for bed W1-02"),
        "{e}"
    );
    let bad =
        "\n[[space]]\nid = \"W1-R1\"\nward = \"W1\"\nkind = \"cupboard\"\nrect = [0, 0, 6, 6]\n";
    let e = error_of(bad);
    assert!(e.message.contains("unknown space kind `cupboard`"), "{e}");
    assert_eq!(e.line, line_of(bad, "cupboard"));
    let e =
        error_of("\n[[space]]\nid = \"W1-R1\"\nward = \"W1\"\nkind = \"room\"\nrect = [0, 0, 6]\n");
    assert!(e.message.contains("rect is [x, y, width, height]"), "{e}");
}

#[test]
fn rtls_gateways_and_their_events_are_checked() {
    let e = error_of("\n[rtls]\nmode = \"gps\"\n");
    assert!(e.message.contains("expected ble or uwb"), "{e}");
    let e = error_of("\n[gateways]\ndrop_policy = \"drop_random\"\n");
    assert!(
        e.message.contains("expected drop_oldest or drop_newest"),
        "{e}"
    );
    let e = error_of(
        "\n[[event]]\nat = \"1h\"\nasset = \"W1-IVP09\"\nkind = \"asset_wander\"\nto = \"W1\"\n",
    );
    assert!(e.message.contains("no asset `W1-IVP09`"), "{e}");
    let e = error_of("\n[[event]]\nat = \"1h\"\nward = \"W1\"\nkind = \"uplink_outage\"\n");
    assert!(e.message.contains("needs `duration"), "{e}");
    let e = error_of(
        "\n[[event]]\nat = \"1h\"\nward = \"W1\"\nbed = \"W1-01\"\nkind = \"uplink_outage\"\nduration = \"5m\"\n",
    );
    assert!(
        e.message
            .contains("`bed` does not apply to a `uplink_outage` event"),
        "{e}"
    );
    let e = error_of("\n[kit.k]\ndevices = [{ kind = \"asset_tag\" }]\n");
    assert!(
        e.message.contains("asset_tag is not worn by patients"),
        "{e}"
    );
    // Equipment comes in the mix, named by ward and kind.
    let s = parse(
        &format!("{MINIMAL}\n[rtls]\nassets_per_bed = 2\nstaff_per_bed = 0.5\n"),
        "t.toml",
    )
    .unwrap();
    let ids: Vec<&str> = s.assets.iter().map(|a| a.id.as_str()).collect();
    assert!(
        ids.contains(&"W1-IVP01") && ids.contains(&"W1-WCH01"),
        "{ids:?}"
    );
    assert_eq!(s.assets.len(), 2 * s.beds.len());
    assert_eq!(s.staff.len(), s.beds.len() / 2);
}

// Hardening issue: each defect found by probing, pinned by a test named after it.

#[test]
fn hardening_gate_in_a_multiline_string_with_multibyte_text_is_located_not_a_panic() {
    for extra in [
        "\n[scoring]\ngates = [\"\"\"€\"\"\"]\n",
        "\n[scoring]\ngates = ['''\n€€ >= x''']\n",
        "\n[scoring]\ngates = [\"\\u20ACsensitivity >= 2\"]\n",
        "\n[scoring]\ngates = [\"\"\"sensitivity \\\n    >= 7€\"\"\"]\n",
    ] {
        let e = error_of(extra);
        assert!(e.message.starts_with("gate "), "{extra}: {e}");
        assert!(e.line > MINIMAL.lines().count(), "{extra}: {e}");
    }
    // The column points at the class even behind an escape: `\u00e9` is one character.
    let e = error_of("\n[scoring]\ngates = [\"\\u00e9 >= 1\"]\n");
    assert_eq!(e.column, "gates = [\"".len() + 1, "{e}");
}

#[test]
fn hardening_non_finite_numbers_are_rejected_everywhere() {
    for (extra, needle) in [
        (
            "\n[population]\nage = { mean = nan, sd = 1, min = 20, max = 90 }\n",
            "nan",
        ),
        ("\n[population]\noccupancy = inf\n", "inf"),
        ("\n[population]\noxygen = -inf\n", "-inf"),
        (
            "\n[site]\nname = \"s\"\nutc_offset_hours = 1e400\n",
            "1e400",
        ),
        ("\n[radio]\nexponent = +nan\n", "+nan"),
    ] {
        let e = error_of(extra);
        assert!(e.message.contains("not a finite number"), "{extra}: {e}");
        assert_eq!(e.line, line_of(extra, needle), "{extra}: {e}");
        let col = e.source_line.find(needle).unwrap() + 1;
        assert_eq!(e.column, col, "{extra}: {e}");
    }
}

#[test]
fn hardening_sizes_durations_and_epochs_have_upper_bounds() {
    let with = |from: &str, to: &str| {
        let text = MINIMAL.replace(from, to);
        parse(&text, "t.toml")
            .unwrap_err()
            .located()
            .cloned()
            .unwrap()
    };
    let e = with("duration = \"2h\"", "duration = \"106751991167d\"");
    assert!(e.message.contains("longer than"), "{e}");
    let e = with("duration = \"2h\"", "duration = \"144115188075855896:00\"");
    assert!(e.message.contains("duration"), "{e}");
    let e = with("2026-03-02T00:00:00Z", "9999-12-31T23:00:00Z");
    assert!(e.message.contains("would end after 9999-12-31"), "{e}");
    let e = with("2026-03-02T00:00:00Z", "1900-01-01T00:00:00Z");
    assert!(e.message.contains("epoch year"), "{e}");
    let wards: String = (2..=12)
        .map(|i| format!("\n[[ward]]\nid = \"W{i}\"\nbeds = 10000\n"))
        .collect();
    let e = error_of(&wards);
    assert!(e.message.contains("at most 100000 beds"), "{e}");
    let e = error_of(
        "\n[[space]]\nid = \"R1\"\nward = \"W1\"\nkind = \"room\"\nrect = [0, 0, 1e308, 4]\n",
    );
    assert!(e.message.contains("at most 10000 m"), "{e}");
    let e = error_of(
        "\n[[space]]\nid = \"R1\"\nward = \"W1\"\nkind = \"room\"\nrect = [0, 0, 4, 4]\n\
         [[receiver]]\nspace = \"R1\"\nat = [1e7, 0]\n",
    );
    assert!(e.message.contains("at most 10000 m"), "{e}");
}

#[test]
fn hardening_invalid_utf8_is_located() {
    let mut bytes = MINIMAL.as_bytes().to_vec();
    bytes.extend_from_slice(b"\n[site]\nname = \"caf\xC3\xA9 \xFF\"\n");
    let e = parse_bytes(&bytes, "t.toml").unwrap_err();
    let l = e.located().expect("located");
    assert_eq!(l.line, MINIMAL.lines().count() + 3, "{e}");
    assert_eq!(l.column, "name = \"café ".chars().count() + 1, "{e}");
    assert!(l.message.contains("0xFF"), "{e}");
}

#[test]
fn hardening_deep_nesting_is_located_and_long_lines_are_trimmed() {
    let mut extra = "\n".repeat(80);
    extra.push_str(&format!("x = {}1{}\n", "[".repeat(5000), "]".repeat(5000)));
    let e = error_of(&extra);
    assert_eq!(e.line, MINIMAL.lines().count() + 81, "{e}");
    assert!(e.message.contains("nest deeper"), "{e}");
    assert!(
        e.source_line.chars().count() <= 102,
        "{}",
        e.source_line.len()
    );
    // The caret still sits under the offending character of the trimmed line.
    let shown = e.to_string();
    assert!(shown.lines().count() == 4, "{shown}");
    // A long line with an error at its end.
    let extra = format!("\n[site]\nname = \"{}\"\nzzz = 1\n", "é".repeat(100_000));
    let e = error_of(&extra);
    assert!(e.source_line.chars().count() <= 102);
}

#[test]
fn hardening_ids_are_unique_across_patients_beds_and_devices() {
    let cases = [
        (
            "\n[[patient]]\nbed = \"W1-01\"\nid = \"W1-02\"\n",
            "the bed `W1-02`",
        ),
        (
            "\n[[patient]]\nbed = \"W1-01\"\nid = \"spo2-W1-03\"\n",
            "the pulse_oximeter device `spo2-W1-03`",
        ),
        (
            "\n[[patient]]\nbed = \"W1-01\"\nid = \"P-W1-02\"\n",
            "default id of the patient in bed `W1-02`",
        ),
        (
            "\n[[ward]]\nid = \"fridge\"\nbeds = 2\n[[fridge]]\nid = \"01\"\nward = \"W1\"\n",
            "the fridge_logger device `fridge-01`",
        ),
    ];
    for (extra, says) in cases {
        let e = error_of(extra);
        assert!(e.message.contains(says), "{extra}: {e}");
        assert!(e.message.contains("(defined at t.toml:"), "{extra}: {e}");
    }
    // The patient's own default id is fine.
    let text = format!("{MINIMAL}\n[[patient]]\nbed = \"W1-01\"\nid = \"P-W1-01\"\n");
    parse(&text, "t.toml").unwrap();
}

/// Every fault kind: what it needs, what does not apply, and the bounds, each with its place.
#[test]
fn fault_events_are_checked_with_their_place() {
    let ev = |body: &str| format!("\n[[event]]\nat = \"1h\"\n{body}");
    for (body, says, needle) in [
        (
            "ward = \"W1\"\nkind = \"uplink_flapping\"\nduration = \"1h\"\n",
            "needs `period",
            "uplink_flapping",
        ),
        (
            "ward = \"W1\"\nkind = \"uplink_flapping\"\nduration = \"1h\"\nperiod = \"100ms\"\n",
            "at least one step",
            "period",
        ),
        (
            "ward = \"W1\"\nkind = \"uplink_flapping\"\nduration = \"300d\"\nperiod = \"1s\"\n",
            "at most 100000 times",
            "period",
        ),
        (
            "ward = \"W1\"\nkind = \"gateway_power_loss\"\nduration = \"5m\"\nspool = \"sometimes\"\n",
            "\"persistent\" or \"volatile\"",
            "spool",
        ),
        (
            "ward = \"W1\"\nkind = \"gateway_power_loss\"\n",
            "needs `duration",
            "gateway_power_loss",
        ),
        (
            "ward = \"W1\"\nkind = \"battery_wave\"\nduration = \"5m\"\nshare = 1e308\n",
            "`share` is more than 0",
            "share",
        ),
        (
            "ward = \"W1\"\nkind = \"wifi_outage\"\nduration = \"5m\"\nshare = 0.5\n",
            "`share` does not apply to a `wifi_outage`",
            "share",
        ),
        (
            "ward = \"W9\"\nkind = \"wifi_outage\"\nduration = \"5m\"\n",
            "no ward `W9`: expected one of: W1",
            "W9",
        ),
        (
            "ward = \"W1\"\nkind = \"clock_step\"\nstep = \"+400d\"\n",
            "at most 366d",
            "step =",
        ),
        (
            "ward = \"W1\"\nkind = \"clock_step\"\nstep = \"0s\"\n",
            "must not be zero",
            "step =",
        ),
        (
            "bed = \"W1-01\"\nkind = \"clock_step\"\nstep = \"-5m\"\n",
            "needs `device",
            "clock_step",
        ),
        (
            "ward = \"W1\"\nbed = \"W1-01\"\ndevice = \"ecg_patch\"\nkind = \"clock_step\"\nstep = \"-5m\"\n",
            "not both",
            "ward = \"W1\"",
        ),
        (
            "ward = \"W1\"\nkind = \"gateway_crash\"\nperiod = \"2m\"\n",
            "`period` does not apply",
            "period",
        ),
        (
            "ward = \"W1\"\nkind = \"uplink_degraded\"\nduration = \"5m\"\n",
            "at least one of `latency`, `jitter`, `loss`, `bandwidth`",
            "uplink_degraded",
        ),
        (
            "ward = \"W1\"\nkind = \"uplink_degraded\"\nduration = \"5m\"\nloss = 1.5\n",
            "`loss` is from 0 to 1",
            "loss",
        ),
        (
            "ward = \"W1\"\nkind = \"uplink_degraded\"\nduration = \"5m\"\nbandwidth = 1e308\n",
            "more than 0 and at most",
            "bandwidth",
        ),
        (
            "ward = \"W1\"\nkind = \"uplink_degraded\"\nduration = \"5m\"\nlatency = \"2h\"\n",
            "`latency` is from 0 to 1h",
            "latency",
        ),
        (
            "ward = \"W1\"\nkind = \"wifi_outage\"\nduration = \"5m\"\njitter = \"1s\"\n",
            "`jitter` does not apply to a `wifi_outage`",
            "jitter",
        ),
        (
            "ward = \"W1\"\nkind = \"broker_outage\"\nduration = \"5m\"\n",
            "`ward` does not apply to a `broker_outage`",
            "ward = \"W1\"",
        ),
        (
            "kind = \"broker_outage\"\n",
            "needs `duration",
            "broker_outage",
        ),
        (
            "kind = \"broker_restart\"\npersistence = \"yes\"\n",
            "expected a boolean",
            "persistence",
        ),
        (
            "ward = \"W1\"\nkind = \"clock_drift\"\n",
            "needs `drift = ...`",
            "clock_drift",
        ),
        (
            "ward = \"W1\"\nkind = \"clock_drift\"\ndrift = 1e308\n",
            "at most 100000 either way",
            "drift = 1e308",
        ),
        (
            "ward = \"W1\"\nkind = \"clock_drift\"\ndrift = 50.0\nduration = \"5m\"\n",
            "`duration` does not apply",
            "duration = \"5m\"",
        ),
        (
            "ward = \"W1\"\nkind = \"radio_interference\"\nduration = \"5m\"\n",
            "needs `attenuation = ...`",
            "radio_interference",
        ),
        (
            "ward = \"W1\"\nkind = \"radio_interference\"\nduration = \"5m\"\nattenuation = -3.0\n",
            "more than 0 and at most 100",
            "attenuation",
        ),
        (
            "bed = \"W1-01\"\nkind = \"out_of_coverage\"\nduration = \"5m\"\n",
            "needs `device",
            "out_of_coverage",
        ),
        (
            "bed = \"W1-01\"\ndevice = \"ecg_patch\"\nkind = \"out_of_coverage\"\n",
            "needs `duration",
            "out_of_coverage",
        ),
        (
            "ward = \"W1\"\nkind = \"uplink_outage\"\nduration = \"5m\"\npersistence = true\n",
            "`persistence` does not apply to a `uplink_outage`",
            "persistence",
        ),
    ] {
        let extra = ev(body);
        let e = error_of(&extra);
        assert!(e.message.contains(says), "{body}: {e}");
        assert_eq!(e.line, line_of(&extra, needle), "{body}: {e}");
    }
    // A crash reboots in 2 min unless told; its spool is volatile unless told.
    let s = parse(
        &format!(
            "{MINIMAL}{}",
            ev("ward = \"W1\"\nkind = \"gateway_crash\"\n")
        ),
        "t.toml",
    )
    .unwrap();
    assert_eq!(
        s.events[0].kind,
        EventKind::GatewayDown {
            cause: GatewayDownCause::Crash,
            duration_ms: 2 * 60_000,
            persistent_spool: false
        }
    );
    // A broker restart is the site's, 30 s unless told, without persistence unless told.
    let s = parse(
        &format!("{MINIMAL}{}", ev("kind = \"broker_restart\"\n")),
        "t.toml",
    )
    .unwrap();
    assert_eq!(s.events[0].target, Target::Site);
    assert_eq!(
        s.events[0].kind,
        EventKind::BrokerDown {
            restart: true,
            duration_ms: 30_000,
            persistence: false
        }
    );
    let e = error_of("\n[kit.k]\ndevices = [{ kind = \"ecg_patch\", buffer = -1 }]\n");
    assert!(
        e.message.contains("`buffer` is a number of readings"),
        "{e}"
    );
}

#[test]
fn the_chart_table_sets_compliance_and_its_mistakes_are_located() {
    assert_eq!(
        parse(MINIMAL, "t.toml").unwrap().chart,
        ChartCompliance::default()
    );
    let s = parse(
        &format!(
            "{MINIMAL}[chart]\nmissed_night = 0.4\ndelay_day = \"5m\"\nnight_from = \"23:30\"\nnight_to = \"07:00\"\nhabitual_rr = 0\n"
        ),
        "t.toml",
    )
    .unwrap();
    assert_eq!(s.chart.missed_night, 0.4);
    assert_eq!(s.chart.missed_day, ChartCompliance::default().missed_day);
    assert_eq!(s.chart.delay_day_ms, 300_000.0);
    assert_eq!((s.chart.night_from_h, s.chart.night_to_h), (23.5, 7.0));
    assert_eq!(s.chart.habitual_rr, 0.0);
    for (extra, needle, says) in [
        (
            "[chart]\nmissed_night = 1.5\n",
            "1.5",
            "fraction from 0 to 1",
        ),
        ("[chart]\nmissed_day = nan\n", "nan", "not a finite number"),
        ("[chart]\ndelay_night = \"-5m\"\n", "-5m", "delay_night"),
        ("[chart]\ndelay_night = \"2d\"\n", "2d", "0 to 24h"),
        ("[chart]\nnight_from = \"25:00\"\n", "25:00", "HH:MM"),
        ("[chart]\nnight_to = \"7h\"\n", "7h", "HH:MM"),
        ("[chart]\nnight_to = \"０７:００\"\n", "０７", "HH:MM"),
        ("[chart]\nmissed = 0.1\n", "missed =", "unknown field"),
    ] {
        let e = error_of(extra);
        assert_eq!(e.line, line_of(extra, needle), "{extra}: {e}");
        assert!(e.to_string().contains(says), "{extra}: {e}");
    }
}
