//! The run matcher against the regex crate: an arbitrary pattern (made start-anchored) and
//! subject; when the run matcher takes the pattern and answers, its match and captures must be
//! the regex crate's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logmill::compile::runs::RunMatcher;
use regex_automata::util::primitives::NonMaxUsize;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(pick) % (rest.len() + 1);
    let (pattern, subject) = rest.split_at(cut);
    let pattern = format!("^{}", String::from_utf8_lossy(pattern));
    let Ok(re) = regex::bytes::RegexBuilder::new(&pattern)
        .size_limit(1 << 20)
        .build()
    else {
        return;
    };
    let Some(m) = RunMatcher::new(&pattern) else {
        return;
    };
    let groups = re.captures_len();
    let mut slots: Vec<Option<NonMaxUsize>> = vec![None; 2 * groups];
    let mut stack = Vec::new();
    let Some(found) = m.search(subject, &mut slots, &mut stack) else {
        return;
    };
    let mut locs = re.capture_locations();
    let want = re.captures_read(&mut locs, subject).is_some();
    assert_eq!(found, want, "{pattern:?} on {subject:?}");
    if found {
        for g in 0..groups {
            let got = slots[2 * g].zip(slots[2 * g + 1]).map(|(s, e)| (s.get(), e.get()));
            assert_eq!(got, locs.get(g), "group {g} of {pattern:?} on {subject:?}");
        }
    }
});
