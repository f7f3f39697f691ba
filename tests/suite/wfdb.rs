//! WFDB records read back by PhysioNet's own Python package (`wfdb`, installed by .ci/run):
//! the independent reader the heart-rhythms issue asks for. These records come straight from the
//! synthesiser and the batch writer; a run's streamed records are read back in
//! tests/suite/rhythms.rs.

use wardtwin_exporters::wfdb::{Annotation, Signal, write_annotations, write_record};
use wardtwin_sim::rng::stream;
use wardtwin_twins::waveform::{BeatClock, ECG_HZ, Hrv, RESP_HZ, Rhythm, State, synthesize};

use super::support::{python_json, temp_dir};

#[test]
fn wfdb_reads_back_the_samples_and_beats_written() {
    let tmp = temp_dir("wfdb");
    let mut clock = BeatClock::new(stream(1, "P-W1-03", "beats"), Hrv::default());
    let state = State {
        heart_rate: 72.0,
        resp_rate: 16.0,
        rhythm: Rhythm::Sinus,
        perfusion: 0.8,
        systolic: 118.0,
        pvc_per_min: 8.0,
        pac_per_min: 2.0,
        ecg_artifact: None,
        pleth_artifact: None,
    };
    let s = synthesize(&mut clock, &state, 60.0);
    let frames = s.resp.len();
    write_record(
        tmp.path(),
        "W1-03",
        RESP_HZ,
        frames,
        &[
            Signal {
                name: "ECG II",
                units: "mV",
                gain: 200.0,
                per_frame: 4,
                samples: &s.ecg,
            },
            Signal {
                name: "PLETH",
                units: "NU",
                gain: 1000.0,
                per_frame: 2,
                samples: &s.pleth,
            },
            Signal {
                name: "RESP",
                units: "Ohm",
                gain: 1000.0,
                per_frame: 1,
                samples: &s.resp,
            },
        ],
    )
    .unwrap();
    let mut anns = vec![Annotation {
        sample: 0,
        symbol: "+",
        aux: Some("(N".into()),
    }];
    anns.extend(s.beats.iter().map(|b| Annotation {
        sample: (b.r_ms * ECG_HZ / 1000.0).round() as u64,
        symbol: b.kind.symbol(),
        aux: None,
    }));
    write_annotations(tmp.path(), "W1-03", "atr", Some(ECG_HZ), &anns).unwrap();

    // wfdb's view: every channel at its own rate, in physical units; the annotations.
    let script = r#"
import sys, json, wfdb
r = wfdb.rdrecord(sys.argv[1], smooth_frames=False)
a = wfdb.rdann(sys.argv[1], 'atr')
print(json.dumps({
  'fs': r.fs, 'names': r.sig_name, 'units': r.units, 'spf': [int(x) for x in r.samps_per_frame],
  'ecg': [float(x) for x in r.e_p_signal[0]],
  'pleth': [float(x) for x in r.e_p_signal[1]],
  'resp': [float(x) for x in r.e_p_signal[2]],
  'samples': [int(x) for x in a.sample], 'symbols': list(a.symbol), 'aux': list(a.aux_note),
  'ann_fs': a.fs,
}))
"#;
    let v = python_json(script, &tmp.path().join("W1-03"));
    assert_eq!(v["fs"], serde_json::json!(62.5));
    assert_eq!(v["names"], serde_json::json!(["ECG II", "PLETH", "RESP"]));
    assert_eq!(v["spf"], serde_json::json!([4, 2, 1]));
    // Annotation times are ECG samples, and the file says so.
    assert_eq!(v["ann_fs"].as_f64(), Some(250.0));
    let close = |key: &str, written: &[f32], step: f64| {
        let read: Vec<f64> = v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(read.len(), written.len(), "{key}");
        for (i, (r, w)) in read.iter().zip(written).enumerate() {
            assert!(
                (r - f64::from(*w)).abs() <= step / 2.0 + 1e-9,
                "{key}[{i}]: {r} vs {w}"
            );
        }
    };
    close("ecg", &s.ecg, 1.0 / 200.0);
    close("pleth", &s.pleth, 1.0 / 1000.0);
    close("resp", &s.resp, 1.0 / 1000.0);
    let samples: Vec<u64> = v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(samples, anns.iter().map(|a| a.sample).collect::<Vec<_>>());
    let symbols: Vec<&str> = v["symbols"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    assert_eq!(symbols[0], "+");
    let written: Vec<&str> = anns[1..].iter().map(|a| a.symbol).collect();
    assert_eq!(symbols[1..], written[..]);
    assert!(
        written.contains(&"V"),
        "a minute at 8 PVCs a minute has one"
    );
    assert_eq!(v["aux"][0], "(N");
}
