//! The WFDB writer's own checks (the independent one is `wfdb` in tests/suite).

use super::*;

#[test]
fn a_record_interleaves_frames_and_its_header_says_how() {
    let dir = tempfile::tempdir().unwrap();
    let ecg: Vec<f32> = (0..8).map(|i| i as f32 * 0.5).collect();
    let resp: Vec<f32> = vec![1.0, -1.0];
    write_record(
        dir.path(),
        "r1",
        62.5,
        2,
        &[
            Signal {
                name: "ECG II",
                units: "mV",
                gain: 200.0,
                per_frame: 4,
                samples: &ecg,
            },
            Signal {
                name: "Resp",
                units: "Ohm",
                gain: 1000.0,
                per_frame: 1,
                samples: &resp,
            },
        ],
    )
    .unwrap();
    let hea = std::fs::read_to_string(dir.path().join("r1.hea")).unwrap();
    let lines: Vec<&str> = hea.lines().collect();
    assert_eq!(lines[0], "r1 2 62.5 2");
    assert!(
        lines[1].starts_with("r1.dat 16x4 200(0)/mV 16 0 0 "),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("r1.dat 16 1000(0)/Ohm 16 0 1000 "),
        "{}",
        lines[2]
    );
    let dat = std::fs::read(dir.path().join("r1.dat")).unwrap();
    let v: Vec<i16> = dat
        .chunks(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    assert_eq!(v, [0, 100, 200, 300, 1000, 400, 500, 600, 700, -1000]);
    // Wrong lengths are refused.
    assert!(
        write_record(
            dir.path(),
            "r2",
            250.0,
            3,
            &[Signal {
                name: "x",
                units: "mV",
                gain: 1.0,
                per_frame: 1,
                samples: &resp
            }]
        )
        .is_err()
    );
}

#[test]
fn annotations_use_skips_for_long_intervals_and_carry_aux_text() {
    let dir = tempfile::tempdir().unwrap();
    let anns = vec![
        Annotation {
            sample: 10,
            symbol: "+",
            aux: Some("(N".into()),
        },
        Annotation {
            sample: 10,
            symbol: "N",
            aux: None,
        },
        Annotation {
            sample: 5_000,
            symbol: "V",
            aux: None,
        },
    ];
    write_annotations(dir.path(), "r1", "atr", None, &anns).unwrap();
    let b = std::fs::read(dir.path().join("r1.atr")).unwrap();
    let w: Vec<u16> = b
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    // + at 10, its aux "(N" (2 bytes), N at +0, SKIP 4990, V at +0, end.
    assert_eq!(w[0], (28 << 10) | 10);
    assert_eq!(w[1], (63 << 10) | 2);
    assert_eq!(&b[4..6], b"(N");
    assert_eq!(w[3], 1 << 10);
    assert_eq!(w[4], 59 << 10);
    assert_eq!((u32::from(w[5]) << 16) | u32::from(w[6]), 4_990);
    assert_eq!(w[7], 5 << 10);
    assert_eq!(*w.last().unwrap(), 0);
    let bad = [Annotation {
        sample: 1,
        symbol: "Z",
        aux: None,
    }];
    assert!(write_annotations(dir.path(), "r2", "atr", None, &bad).is_err());
}
