//! Floor plans: each ward as a graph of connected spaces (rooms, corridor, nurses' station,
//! equipment room, clean utility) with coordinates in metres, where its gateway and RTLS
//! receivers hang; and the site spaces that join the wards (the main corridor, and the way out).
//!
//! A ward's plan is **generated** (a double-loaded corridor: see [`generate_ward`]) unless the
//! scenario gives it explicitly with `[[space]]` and `[[receiver]]` entries. Coordinates are
//! site-wide metres: `x` east, `y` north, wards side by side along the main corridor.

/// A point on the site plan, metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x_m: f64,
    pub y_m: f64,
}

impl Point {
    pub fn distance_m(&self, o: &Point) -> f64 {
        ((self.x_m - o.x_m).powi(2) + (self.y_m - o.y_m).powi(2)).sqrt()
    }
}

/// An axis-aligned rectangle, metres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x_m: f64,
    pub y_m: f64,
    pub w_m: f64,
    pub h_m: f64,
}

impl Rect {
    pub fn center(&self) -> Point {
        Point {
            x_m: self.x_m + self.w_m / 2.0,
            y_m: self.y_m + self.h_m / 2.0,
        }
    }
    pub fn contains(&self, p: &Point) -> bool {
        p.x_m >= self.x_m
            && p.x_m <= self.x_m + self.w_m
            && p.y_m >= self.y_m
            && p.y_m <= self.y_m + self.h_m
    }
    /// A point at fractions `(fx, fy)` of the rectangle.
    pub fn at(&self, fx: f64, fy: f64) -> Point {
        Point {
            x_m: self.x_m + fx * self.w_m,
            y_m: self.y_m + fy * self.h_m,
        }
    }
}

/// What a space is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpaceKind {
    /// A patient room (its beds stand in it).
    Room,
    Corridor,
    /// The nurses' station: where staff wait, and the ward's gateway hangs.
    Station,
    /// Where equipment is parked when not in use.
    Equipment,
    /// Clean utility: vaccine fridges stand here.
    Utility,
    /// The site's main corridor, joining the wards.
    Lobby,
    /// Outside the building (loading bay, car park): no receivers.
    Outside,
}

impl SpaceKind {
    pub const ALL: [SpaceKind; 7] = [
        SpaceKind::Room,
        SpaceKind::Corridor,
        SpaceKind::Station,
        SpaceKind::Equipment,
        SpaceKind::Utility,
        SpaceKind::Lobby,
        SpaceKind::Outside,
    ];
    pub fn name(self) -> &'static str {
        match self {
            SpaceKind::Room => "room",
            SpaceKind::Corridor => "corridor",
            SpaceKind::Station => "station",
            SpaceKind::Equipment => "equipment",
            SpaceKind::Utility => "utility",
            SpaceKind::Lobby => "lobby",
            SpaceKind::Outside => "outside",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// One space of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    /// `W1-R3`, `W1-COR`, `MAIN`.
    pub id: String,
    /// Index into `Scenario::wards`; `None` for site spaces.
    pub ward: Option<usize>,
    pub kind: SpaceKind,
    /// The zone it belongs to (assets are permitted in zones): the ward id by default,
    /// `SITE` for the main corridor, `OUTSIDE` outside.
    pub zone: String,
    pub rect: Rect,
    /// Spaces reachable directly (through a door), by index; symmetric.
    pub neighbours: Vec<usize>,
}

/// A BLE receiver (or UWB anchor), wired to its ward's gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct Receiver {
    /// `rx-W1-R3`.
    pub id: String,
    /// Index into [`Layout::spaces`].
    pub space: usize,
    pub at: Point,
}

/// The site plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    pub spaces: Vec<Space>,
    pub receivers: Vec<Receiver>,
    /// Each ward's gateway: the space it hangs in and where.
    pub gateways: Vec<(usize, Point)>,
    /// Each bed's space and position.
    pub beds: Vec<(usize, Point)>,
    /// Each fridge's space and position.
    pub fridges: Vec<(usize, Point)>,
}

impl Layout {
    pub fn space_index(&self, id: &str) -> Option<usize> {
        self.spaces.iter().position(|s| s.id == id)
    }

    /// The way out of the building (`EXIT`; every layout has it, among the last spaces, so
    /// this is found from the end: it is looked up per RTLS asset per day).
    pub fn exit(&self) -> usize {
        self.spaces
            .iter()
            .rposition(|s| s.id == "EXIT")
            .expect("every layout has EXIT")
    }

    /// The shortest path of spaces from `from` to `to` (both included), breadth first over
    /// neighbours in index order (deterministic).
    pub fn path(&self, from: usize, to: usize) -> Vec<usize> {
        if from == to {
            return vec![from];
        }
        let mut prev = vec![usize::MAX; self.spaces.len()];
        let mut queue = std::collections::VecDeque::from([from]);
        prev[from] = from;
        while let Some(s) = queue.pop_front() {
            for &n in &self.spaces[s].neighbours {
                if prev[n] == usize::MAX {
                    prev[n] = s;
                    if n == to {
                        let mut path = vec![to];
                        let mut at = to;
                        while at != from {
                            at = prev[at];
                            path.push(at);
                        }
                        path.reverse();
                        return path;
                    }
                    queue.push_back(n);
                }
            }
        }
        Vec::new()
    }

    /// Spaces of `kind` in ward `ward`.
    pub fn of_kind(&self, ward: usize, kind: SpaceKind) -> impl Iterator<Item = usize> + '_ {
        self.spaces
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.ward == Some(ward) && s.kind == kind)
            .map(|(i, _)| i)
    }

    pub(crate) fn connect(&mut self, a: usize, b: usize) {
        if a != b && !self.spaces[a].neighbours.contains(&b) {
            self.spaces[a].neighbours.push(b);
            self.spaces[b].neighbours.push(a);
        }
    }
}

/// Room width along the corridor, depth, corridor width, metres.
pub const ROOM_W_M: f64 = 6.0;
pub const ROOM_D_M: f64 = 6.0;
pub const CORRIDOR_W_M: f64 = 3.0;
/// Gap between wards along the main corridor, metres.
pub const WARD_GAP_M: f64 = 10.0;
/// Receivers along corridors, every this many metres.
pub const CORRIDOR_RECEIVER_EVERY_M: f64 = 10.0;

/// A generated ward plan: `rooms` patient rooms on both sides of a corridor running east from
/// `x0_m`, with the nurses' station, the equipment room, the clean utility and a store at the
/// corridor's west end, which opens onto the main corridor (south, `y < 0`). One receiver in
/// every space (at its centre) and one every 10 m of corridor; the gateway at the station.
///
/// Returns the spaces (neighbours as indices into the returned list plus `offset`), the
/// receivers, the gateway, and how wide the ward is.
pub fn generate_ward(
    ward: usize,
    id: &str,
    rooms: usize,
    x0_m: f64,
    offset: usize,
) -> (Vec<Space>, Vec<Receiver>, (usize, Point), f64) {
    let service = 2; // station + equipment south; utility + store north
    let len_m = (service + rooms.div_ceil(2)) as f64 * ROOM_W_M;
    let south = |col: usize| Rect {
        x_m: x0_m + col as f64 * ROOM_W_M,
        y_m: 0.0,
        w_m: ROOM_W_M,
        h_m: ROOM_D_M,
    };
    let north = |col: usize| Rect {
        x_m: x0_m + col as f64 * ROOM_W_M,
        y_m: ROOM_D_M + CORRIDOR_W_M,
        w_m: ROOM_W_M,
        h_m: ROOM_D_M,
    };
    let space = |sid: String, kind, rect| Space {
        id: sid,
        ward: Some(ward),
        kind,
        zone: id.to_string(),
        rect,
        neighbours: vec![offset], // every space opens onto the corridor
    };
    let mut spaces = vec![Space {
        id: format!("{id}-COR"),
        ward: Some(ward),
        kind: SpaceKind::Corridor,
        zone: id.to_string(),
        rect: Rect {
            x_m: x0_m,
            y_m: ROOM_D_M,
            w_m: len_m,
            h_m: CORRIDOR_W_M,
        },
        neighbours: Vec::new(),
    }];
    spaces.push(space(format!("{id}-STN"), SpaceKind::Station, south(0)));
    spaces.push(space(format!("{id}-EQP"), SpaceKind::Equipment, south(1)));
    spaces.push(space(format!("{id}-UTL"), SpaceKind::Utility, north(0)));
    spaces.push(space(format!("{id}-STO"), SpaceKind::Equipment, north(1)));
    for r in 0..rooms {
        let col = service + r / 2;
        let rect = if r % 2 == 0 { south(col) } else { north(col) };
        spaces.push(space(format!("{id}-R{}", r + 1), SpaceKind::Room, rect));
    }
    let n = spaces.len();
    spaces[0].neighbours = (offset + 1..offset + n).collect();
    let mut receivers = Vec::new();
    for (i, s) in spaces.iter().enumerate().skip(1) {
        receivers.push(Receiver {
            id: format!("rx-{}", s.id),
            space: offset + i,
            at: s.rect.center(),
        });
    }
    let cor = spaces[0].rect;
    let k = (cor.w_m / CORRIDOR_RECEIVER_EVERY_M).ceil().max(1.0) as usize;
    for j in 0..k {
        receivers.push(Receiver {
            id: format!("rx-{id}-COR{}", j + 1),
            space: offset,
            at: cor.at((j as f64 + 0.5) / k as f64, 0.5),
        });
    }
    let gateway = (offset + 1, spaces[1].rect.at(0.5, 0.9));
    (spaces, receivers, gateway, len_m)
}

/// Beds of a room, evenly along its length, at mid-depth.
pub fn bed_positions(room: &Rect, beds: usize) -> Vec<Point> {
    (0..beds)
        .map(|j| room.at((j as f64 + 0.5) / beds.max(1) as f64, 0.5))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_ward_is_a_connected_graph_with_a_receiver_in_every_space() {
        let (spaces, receivers, gateway, len) = generate_ward(0, "W1", 6, 0.0, 0);
        assert_eq!(spaces.len(), 1 + 4 + 6);
        assert_eq!(len, 5.0 * ROOM_W_M);
        let layout = Layout {
            spaces,
            receivers,
            gateways: vec![gateway],
            beds: Vec::new(),
            fridges: Vec::new(),
        };
        let r6 = layout.space_index("W1-R6").unwrap();
        let eqp = layout.space_index("W1-EQP").unwrap();
        assert_eq!(layout.path(r6, eqp), vec![r6, 0, eqp], "via the corridor");
        for (i, s) in layout.spaces.iter().enumerate() {
            assert!(
                layout.receivers.iter().any(|r| r.space == i),
                "{} has a receiver",
                s.id
            );
            for n in &s.neighbours {
                assert!(layout.spaces[*n].neighbours.contains(&i), "symmetric");
            }
        }
        // Rooms do not overlap the corridor.
        let cor = layout.spaces[0].rect;
        for s in &layout.spaces[1..] {
            assert!(s.rect.y_m + s.rect.h_m <= cor.y_m || s.rect.y_m >= cor.y_m + cor.h_m);
        }
        assert_eq!(layout.spaces[gateway.0].kind, SpaceKind::Station);
    }
}
