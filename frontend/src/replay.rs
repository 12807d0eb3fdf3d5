//! The replay of a finished trace as a small state machine: which step (hop) is on show, whether it plays on by
//! itself, and how fast. The component feeds it commands (buttons, keys, the timer's ticks) and draws the result;
//! the timer asks [`Replay::interval_ms`] when the next tick is due.
//!
//! Pure and tested natively: no timers, no DOM.

/// Playback speeds on offer, as multiples of the normal pace.
pub const SPEEDS: [f64; 4] = [0.5, 1.0, 2.0, 4.0];
/// Time one step stays on show at normal speed: long enough to read its sentence aloud.
pub const STEP_MS: f64 = 3000.0;

/// Where a replay stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Replay {
    /// Number of steps (the trace's hops).
    pub steps: usize,
    /// The step on show, or `None` when the replay is off.
    pub position: Option<usize>,
    /// Whether the timer moves it on.
    pub playing: bool,
    /// Multiple of the normal pace.
    pub speed: f64,
}

/// What the user (or the timer) asks of the replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Command {
    /// Play from the current step, or from the start when off or at the end.
    Play,
    /// Stop moving on; stay on the current step.
    Pause,
    /// Play when paused, pause when playing.
    Toggle,
    /// One step forward (pauses).
    Next,
    /// One step back (pauses).
    Previous,
    /// The first step (pauses).
    First,
    /// The last step (pauses).
    Last,
    /// Leave the replay.
    Stop,
    /// The timer fired: the next step, or pause at the end.
    Tick,
    /// Change the pace.
    Speed(f64),
}

impl Replay {
    /// A replay of `steps` steps, off, at normal speed.
    pub fn new(steps: usize) -> Self {
        Replay { steps, position: None, playing: false, speed: 1.0 }
    }

    /// The state after `command`.
    pub fn apply(self, command: Command) -> Replay {
        let last = self.steps.checked_sub(1);
        let Some(last) = last else { return Replay { position: None, playing: false, ..self } };
        let at = |position: usize, playing: bool| Replay { position: Some(position.min(last)), playing, ..self };
        match command {
            Command::Play => match self.position {
                Some(p) if p < last => at(p, true),
                // Off, or at the end: from the start. Playing shows the first step at once.
                _ => at(0, true),
            },
            Command::Pause => Replay { playing: false, ..self },
            Command::Toggle if self.playing => self.apply(Command::Pause),
            Command::Toggle => self.apply(Command::Play),
            Command::Next => at(self.position.map_or(0, |p| p + 1), false),
            Command::Previous => at(self.position.map_or(0, |p| p.saturating_sub(1)), false),
            Command::First => at(0, false),
            Command::Last => at(last, false),
            Command::Stop => Replay { position: None, playing: false, ..self },
            Command::Tick => match self.position {
                Some(p) if self.playing && p < last => at(p + 1, p + 1 < last),
                _ => Replay { playing: false, ..self },
            },
            Command::Speed(speed) if speed.is_finite() && speed > 0.0 => Replay { speed, ..self },
            Command::Speed(_) => self,
        }
    }

    /// The same replay over a trace that now has `steps` steps (the step on show stays valid).
    pub fn resized(self, steps: usize) -> Replay {
        let position = self.position.filter(|&p| p < steps);
        Replay { steps, position, playing: self.playing && position.is_some(), ..self }
    }

    /// Milliseconds until the timer's next tick, while playing.
    pub fn interval_ms(self) -> Option<u32> {
        self.playing.then(|| (STEP_MS / self.speed).round().clamp(100.0, 60_000.0) as u32)
    }

    /// `Step 3 of 7`, or empty when off.
    pub fn progress(self) -> String {
        self.position.map(|p| format!("Step {} of {}", p + 1, self.steps)).unwrap_or_default()
    }
}

/// `0.5×`, `1×`, `2×`.
pub fn speed_label(speed: f64) -> String {
    if speed.fract() == 0.0 { format!("{speed:.0}×") } else { format!("{speed}×") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn play_runs_through_every_step_and_stops_at_the_end() {
        let mut r = Replay::new(3).apply(Command::Play);
        assert_eq!((r.position, r.playing), (Some(0), true));
        let mut seen = vec![0];
        while r.playing {
            r = r.apply(Command::Tick);
            seen.push(r.position.unwrap_or(99));
        }
        assert_eq!(seen, [0, 1, 2]);
        assert_eq!(r.position, Some(2), "stays on the last step");
        assert_eq!(r.apply(Command::Tick), r, "a late tick changes nothing");
        let again = r.apply(Command::Play);
        assert_eq!((again.position, again.playing), (Some(0), true), "play at the end starts over");
    }

    #[test]
    fn stepping_pauses_and_stays_in_range() {
        let r = Replay::new(4).apply(Command::Play).apply(Command::Next);
        assert_eq!((r.position, r.playing), (Some(1), false));
        let r = r.apply(Command::Previous).apply(Command::Previous);
        assert_eq!(r.position, Some(0));
        let r = r.apply(Command::Last).apply(Command::Next);
        assert_eq!(r.position, Some(3));
        assert_eq!(Replay::new(4).apply(Command::Next).position, Some(0), "stepping starts an idle replay");
        assert_eq!(r.apply(Command::First).position, Some(0));
        assert_eq!(r.apply(Command::Stop).position, None);
    }

    #[test]
    fn toggle_pause_and_resume() {
        let r = Replay::new(5).apply(Command::Toggle);
        assert!(r.playing);
        let r = r.apply(Command::Tick).apply(Command::Toggle);
        assert_eq!((r.position, r.playing), (Some(1), false));
        assert_eq!(r.apply(Command::Tick).position, Some(1), "paused: ticks do nothing");
        let r = r.apply(Command::Toggle);
        assert_eq!((r.position, r.playing), (Some(1), true), "resumes where it paused");
    }

    #[test]
    fn speed_sets_the_interval() {
        let r = Replay::new(2).apply(Command::Play);
        assert_eq!(r.interval_ms(), Some(3000));
        assert_eq!(r.apply(Command::Speed(2.0)).interval_ms(), Some(1500));
        assert_eq!(r.apply(Command::Speed(0.5)).interval_ms(), Some(6000));
        assert_eq!(r.apply(Command::Speed(0.0)).speed, 1.0, "nonsense speeds are ignored");
        assert_eq!(r.apply(Command::Pause).interval_ms(), None);
        assert_eq!(speed_label(0.5), "0.5×");
        assert_eq!(speed_label(2.0), "2×");
    }

    #[test]
    fn empty_and_shrinking_traces() {
        assert_eq!(Replay::new(0).apply(Command::Play).position, None);
        let r = Replay::new(5).apply(Command::Last);
        assert_eq!(r.resized(3).position, None);
        assert_eq!(r.resized(8).position, Some(4));
        assert_eq!(r.progress(), "Step 5 of 5");
        assert_eq!(Replay::new(5).progress(), "");
    }
}
