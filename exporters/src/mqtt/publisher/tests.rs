use super::*;

#[test]
fn the_open_files_limit_is_read_from_proc() {
    let limit = open_files_limit().expect("Linux /proc/self/limits");
    assert!(limit >= 64, "{limit}");
}

#[test]
fn pacing_maps_simulation_offsets_to_wall_time_and_max_never_waits() {
    let p = Pacer::new(Speed::Paced(1000.0));
    p.wait(0);
    // 50 simulated seconds at 1000x: 50 ms of wall time.
    p.wait(50_000);
    // `wait` never returns before the offset is due.
    let late = p.lateness_us(50_000).expect("paced");
    assert!(late >= 0, "{late}");
    // Not yet due: negative lateness.
    assert!(p.lateness_us(10_000_000).unwrap() < 0);
    let max = Pacer::new(Speed::Max);
    max.wait(i64::MAX / 2_000);
    assert_eq!(max.lateness_us(1_000), None);
}
