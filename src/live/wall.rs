//! The wall's choice of calls, as plain Rust: the calls its address names
//! (`/wall?calls=id1,id2,…`), or, with none named, the newest live calls
//! on the floor, a new call taking the place of the oldest ended one.

use std::collections::HashMap;

use crate::error::AppError;
use crate::model::{CallId, CallStatus, FloorRow};

/// The most calls a wall shows.
pub const MAX_TILES: usize = 6;

/// What the wall's address asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WallRequest {
    /// No calls named: the newest live calls, new ones joining.
    Following,
    /// The calls named, in the address's order (each once).
    Chosen(Vec<Tile>),
    /// More calls named than a wall shows (how many).
    TooMany(usize),
}

/// One tile the address asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Tile {
    Call(CallId),
    /// Not a call id: what was written and why it is not one.
    Malformed {
        input: String,
        message: String,
    },
}

/// Reads the address's `calls` value (comma-separated call ids).
pub fn parse_calls(raw: Option<&str>) -> WallRequest {
    let named: Vec<&str> = raw
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if named.is_empty() {
        return WallRequest::Following;
    }
    let mut tiles: Vec<Tile> = Vec::new();
    for input in named {
        let tile = match CallId::parse(input) {
            Ok(id) => Tile::Call(id),
            Err(reason) => Tile::Malformed {
                input: input.chars().take(40).collect(),
                message: AppError::invalid_call_id(input, reason).to_string(),
            },
        };
        if !tiles.contains(&tile) {
            tiles.push(tile);
        }
    }
    if tiles.len() > MAX_TILES {
        WallRequest::TooMany(tiles.len())
    } else {
        WallRequest::Chosen(tiles)
    }
}

/// The wall's address for `calls` (the following wall for none).
pub fn wall_path(calls: &[CallId]) -> String {
    if calls.is_empty() {
        return "/wall".into();
    }
    let ids: Vec<String> = calls.iter().map(CallId::to_string).collect();
    format!("/wall?calls={}", ids.join(","))
}

fn started(row: &FloorRow) -> (i64, &CallId) {
    (
        row.call.started_at_ms.unwrap_or(i64::MIN),
        &row.call.call_id,
    )
}

/// The calls a following wall shows, given those it shows now (`current`)
/// and the floor's rows: the live calls not yet on it join, newest first
/// while there is room; then each takes the place of the oldest ended
/// call on the wall (a call gone from the floor counts as ended), else of
/// the oldest call on it, if the new one is newer. Calls already shown
/// keep their place.
pub fn follow<'a>(current: &[CallId], rows: impl IntoIterator<Item = &'a FloorRow>) -> Vec<CallId> {
    let rows: HashMap<&CallId, &FloorRow> =
        rows.into_iter().map(|r| (&r.call.call_id, r)).collect();
    let mut tiles = current.to_vec();
    let mut joining: Vec<&FloorRow> = rows
        .values()
        .copied()
        .filter(|r| r.call.status() == CallStatus::Live && !tiles.contains(&r.call.call_id))
        .collect();
    // The newest few, oldest first: the newest joins last, at the front.
    joining.sort_by(|a, b| started(b).cmp(&started(a)));
    joining.truncate(MAX_TILES);
    joining.reverse();
    let key = |id: &CallId| {
        rows.get(id).map_or((false, i64::MIN), |r| {
            (
                r.call.status() == CallStatus::Live,
                r.call.started_at_ms.unwrap_or(i64::MIN),
            )
        })
    };
    for row in joining {
        let id = row.call.call_id.clone();
        if tiles.len() < MAX_TILES {
            tiles.insert(0, id);
            continue;
        }
        // Ended before live, then oldest first.
        let Some((place, oldest)) = tiles.iter().enumerate().min_by_key(|(_, t)| key(t)) else {
            continue;
        };
        let (live, start) = key(oldest);
        if !live || start < row.call.started_at_ms.unwrap_or(i64::MIN) {
            tiles[place] = id;
        }
    }
    tiles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallDetails;
    use std::collections::BTreeMap;

    fn id(n: u8) -> CallId {
        CallId::parse(&format!("00000000-0000-4000-8000-0000000000{n:02}")).unwrap()
    }

    fn row(n: u8, started: i64, ended: Option<i64>) -> FloorRow {
        FloorRow {
            call: CallDetails {
                call_id: id(n),
                customer_phone: None,
                started_at_ms: Some(started),
                ended_at_ms: ended,
                audio_stream: None,
                attributes: BTreeMap::new(),
            },
            agent: None,
            last_line: None,
            alerts: Vec::new(),
        }
    }

    fn ns(tiles: &[CallId]) -> Vec<u8> {
        tiles
            .iter()
            .map(|t| t.as_str()[34..].parse().unwrap())
            .collect()
    }

    #[test]
    fn the_address_names_up_to_six_calls_each_once_and_says_which_are_no_call_ids() {
        assert_eq!(parse_calls(None), WallRequest::Following);
        assert_eq!(parse_calls(Some("")), WallRequest::Following);
        assert_eq!(parse_calls(Some(" , ")), WallRequest::Following);
        let one = id(1).to_string();
        let two = id(2).to_string();
        let WallRequest::Chosen(tiles) = parse_calls(Some(&format!("{one}, {two},{one},nope")))
        else {
            panic!("chosen");
        };
        assert_eq!(tiles.len(), 3);
        assert_eq!(tiles[0], Tile::Call(id(1)));
        assert_eq!(tiles[1], Tile::Call(id(2)));
        let Tile::Malformed { input, message } = &tiles[2] else {
            panic!("malformed");
        };
        assert_eq!(input, "nope");
        assert!(message.contains("nope"), "{message}");
        let seven: Vec<String> = (1..=7).map(|n| id(n).to_string()).collect();
        assert_eq!(parse_calls(Some(&seven.join(","))), WallRequest::TooMany(7));
        let six = seven[..6].join(",");
        assert!(matches!(parse_calls(Some(&six)), WallRequest::Chosen(t) if t.len() == 6));
        // A very long input is cut in what the tile repeats.
        let long = "x".repeat(500);
        let WallRequest::Chosen(tiles) = parse_calls(Some(&long)) else {
            panic!("chosen");
        };
        assert!(matches!(&tiles[0], Tile::Malformed { input, .. } if input.len() == 40));
    }

    #[test]
    fn the_wall_address_round_trips() {
        assert_eq!(wall_path(&[]), "/wall");
        let path = wall_path(&[id(1), id(2)]);
        assert_eq!(path, format!("/wall?calls={},{}", id(1), id(2)));
        let value = path.strip_prefix("/wall?calls=");
        assert_eq!(
            parse_calls(value),
            WallRequest::Chosen(vec![Tile::Call(id(1)), Tile::Call(id(2))])
        );
    }

    #[test]
    fn a_following_wall_starts_with_the_newest_live_calls_newest_first() {
        let mut rows: Vec<FloorRow> = (1..=8).map(|n| row(n, i64::from(n) * 1000, None)).collect();
        // An ended call is never picked to start with.
        rows.push(row(9, 9_000, Some(9_500)));
        assert_eq!(ns(&follow(&[], &rows)), [8, 7, 6, 5, 4, 3]);
        // Fewer live calls than tiles: all of them.
        assert_eq!(ns(&follow(&[], &rows[..2])), [2, 1]);
        assert!(follow(&[], &[row(9, 9_000, Some(9_500))]).is_empty());
    }

    #[test]
    fn a_new_call_takes_the_place_of_the_oldest_ended_one_and_the_others_stay() {
        let mut rows: Vec<FloorRow> = (1..=6).map(|n| row(n, i64::from(n) * 1000, None)).collect();
        let wall = follow(&[], &rows);
        assert_eq!(ns(&wall), [6, 5, 4, 3, 2, 1]);
        // Nothing new: the same wall.
        assert_eq!(follow(&wall, &rows), wall);
        // Calls 2 and 4 end; a new call takes 2's place (the oldest ended).
        rows[1] = row(2, 2_000, Some(10_000));
        rows[3] = row(4, 4_000, Some(10_000));
        assert_eq!(follow(&wall, &rows), wall, "an end alone changes nothing");
        rows.push(row(7, 7_000, None));
        let wall = follow(&wall, &rows);
        assert_eq!(ns(&wall), [6, 5, 4, 3, 7, 1]);
        // The next takes 4's.
        rows.push(row(8, 8_000, None));
        let wall = follow(&wall, &rows);
        assert_eq!(ns(&wall), [6, 5, 8, 3, 7, 1]);
        // All live: a newer call takes the oldest call's place…
        rows.push(row(9, 9_000, None));
        let wall = follow(&wall, &rows);
        assert_eq!(ns(&wall), [6, 5, 8, 3, 7, 9]);
        // …and a live call older than all of them never does.
        rows.push(row(10, 500, None));
        assert_eq!(follow(&wall, &rows), wall);
        // With room, a new call joins at the front.
        let small = follow(&[], &rows[..2]);
        assert_eq!(ns(&small), [1]);
        let mut two = rows[..2].to_vec();
        two.push(row(11, 11_000, None));
        assert_eq!(ns(&follow(&small, &two)), [11, 1]);
    }
}
