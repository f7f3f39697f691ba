//! Scenario fuzzing (hardening issue: ~340 mutated scenario files found panics, errors without a
//! position and unbounded memory). A seeded generator mutates the library scenarios and the
//! corpus in `scenarios/fuzz/corpus/` (the inputs that once broke the validator) at the byte,
//! token and line level, and checks every result:
//!
//! - no panic;
//! - every error is located: file, a line inside the text, a column, one trimmed line of
//!   context;
//! - memory stays bounded: a counting allocator measures the peak of each validation.
//!
//! Deterministic: the same `WARDTWIN_FUZZ_SEED` and `WARDTWIN_FUZZ_CASES` give the same
//! inputs (defaults: seed 1, 50,000 cases: about 15 s in a debug build); a failure prints the
//! case and writes the input to the temp folder so it can be added to the corpus.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Counts live heap bytes and their peak (reset per case).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE
                .fetch_add(layout.size(), Ordering::Relaxed)
                .wrapping_add(layout.size());
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// More than any valid library scenario needs to validate (hospital-1000-24h: a few MiB).
const MAX_PEAK_BYTES: usize = 256 << 20;

const INTERESTING: &[&str] = &[
    "nan",
    "inf",
    "-inf",
    "+nan",
    "1e308",
    "-1e308",
    "1e400",
    "0",
    "-1",
    "0.0",
    "1e-320",
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "\"106751991167d\"",
    "\"144115188075855896:00\"",
    "\"0s\"",
    "\"-5m\"",
    "\"€\"",
    "\"\"\"€\"\"\"",
    "'''€'''",
    "\"\\u20AC\"",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1",
    "{a={b={c={d={e={f={g={h=1}}}}}}}}",
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "true",
    "\"W1-01\"",
    "\"P-W1-02\"",
    "\"spo2-W1-01\"",
    "\"MAIN\"",
    "\"EXIT\"",
];

fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = wardtwin_scenarios::LIBRARY
        .iter()
        .map(|(n, t)| (format!("library:{n}"), t.as_bytes().to_vec()))
        .collect();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("the fuzz corpus")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for f in files {
        out.push((
            f.file_name().unwrap().to_string_lossy().into_owned(),
            std::fs::read(&f).expect("corpus file"),
        ));
    }
    out
}

/// One random mutation of `text`.
fn mutate(rng: &mut ChaCha8Rng, text: &mut Vec<u8>) {
    let at = |rng: &mut ChaCha8Rng, len: usize| rng.random_range(0..=len);
    match rng.random_range(0..9u32) {
        // A byte flipped, inserted or removed.
        0 if !text.is_empty() => {
            let i = rng.random_range(0..text.len());
            text[i] ^= 1 << rng.random_range(0..8u32);
        }
        1 => {
            let i = at(rng, text.len());
            text.insert(i, rng.random::<u8>());
        }
        2 if !text.is_empty() => {
            let i = rng.random_range(0..text.len());
            let n = rng.random_range(1..=16usize).min(text.len() - i);
            text.drain(i..i + n);
        }
        // A number or a string replaced by an interesting value.
        3 | 4 => {
            let starts: Vec<usize> = (0..text.len())
                .filter(|&i| {
                    (text[i].is_ascii_digit() || text[i] == b'"')
                        && (i == 0 || matches!(text[i - 1], b' ' | b'=' | b'[' | b','))
                })
                .collect();
            if let Some(&i) = starts.get(rng.random_range(0..starts.len().max(1))) {
                let mut j = i + 1;
                let quoted = text[i] == b'"';
                while j < text.len()
                    && !(if quoted {
                        text[j] == b'"'
                    } else {
                        matches!(text[j], b' ' | b',' | b']' | b'}' | b'\n')
                    })
                {
                    j += 1;
                }
                let j = if quoted { (j + 1).min(text.len()) } else { j };
                let v = INTERESTING[rng.random_range(0..INTERESTING.len())];
                text.splice(i..j, v.bytes());
            }
        }
        // A line duplicated, deleted or moved.
        5..=7 => {
            let lines: Vec<Vec<u8>> = text.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            let n = lines.len();
            let mut lines = lines;
            let i = rng.random_range(0..n);
            match rng.random_range(0..3u32) {
                0 => {
                    let l = lines[i].clone();
                    lines.insert(rng.random_range(0..=n), l);
                }
                1 => {
                    lines.remove(i);
                }
                _ => {
                    let l = lines.remove(i);
                    let j = rng.random_range(0..lines.len().max(1));
                    lines.insert(j.min(lines.len()), l);
                }
            }
            *text = lines.join(&b'\n');
        }
        // A long line of one character.
        _ => {
            let i = at(rng, text.len());
            let c = [b'a', b'[', b'{', b'"', b'#', 0xE2][rng.random_range(0..6usize)];
            let n = rng.random_range(1..5000usize);
            text.splice(i..i, std::iter::repeat_n(c, n));
        }
    }
}

/// Validates `input`; panics (with the case) on a defect.
fn check(case: &str, input: &[u8]) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let result = std::panic::catch_unwind(|| wardtwin_scenarios::parse_bytes(input, "fuzz.toml"));
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let keep = || {
        let path = std::env::temp_dir().join(format!(
            "wardtwin-fuzz-{}.toml",
            case.replace([':', '/'], "-")
        ));
        let _ = std::fs::write(&path, input);
        path.display().to_string()
    };
    let Ok(result) = result else {
        panic!("{case}: validation panicked; input kept at {}", keep());
    };
    assert!(
        peak <= MAX_PEAK_BYTES,
        "{case}: validation peaked at {} MiB; input kept at {}",
        peak >> 20,
        keep()
    );
    if let Err(e) = result {
        let Some(l) = e.located() else {
            panic!(
                "{case}: error without a position: {e}; input kept at {}",
                keep()
            );
        };
        let lines = input.split(|b| *b == b'\n').count();
        assert!(
            l.file == "fuzz.toml" && l.line >= 1 && l.line <= lines && l.column >= 1,
            "{case}: error at {}:{}:{} outside the text ({lines} lines): {e}; input kept at {}",
            l.file,
            l.line,
            l.column,
            keep()
        );
        assert!(
            l.source_line.chars().count() <= 102 && !l.message.is_empty(),
            "{case}: context too long or no message; input kept at {}",
            keep()
        );
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One test, so that no other test's allocations count against a case's peak.
#[test]
fn mutated_scenarios_never_panic_always_locate_errors_and_stay_bounded() {
    let corpus = corpus();
    // The corpus first: the inputs that once broke the validator, and the library.
    for (name, text) in &corpus {
        check(name, text);
    }
    let seed = env_or("WARDTWIN_FUZZ_SEED", 1);
    let cases = env_or("WARDTWIN_FUZZ_CASES", 50_000);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut valid = 0;
    for case in 0..cases {
        let (name, base) = &corpus[rng.random_range(0..corpus.len())];
        let mut input = base.clone();
        for _ in 0..rng.random_range(1..=4u32) {
            mutate(&mut rng, &mut input);
        }
        check(&format!("seed {seed} case {case} from {name}"), &input);
        valid += u64::from(wardtwin_scenarios::parse_bytes(&input, "fuzz.toml").is_ok());
    }
    // The mutations are not all fatal: some inputs stay valid, so the validator's deeper
    // checks are reached too.
    assert!(valid > 0 && valid < cases, "{valid} of {cases} valid");
    eprintln!("fuzz: {cases} cases from seed {seed}, {valid} valid");
}
